# SPDX-License-Identifier: Apache-2.0
"""oracle_common.py - what the compare_*.py oracles share.

Imported by compare_flows.py, compare_dns.py, compare_http.py, compare_tls.py
and compare_http2.py (each run by ctest from tests/oracle/CMakeLists.txt,
tests/tls and tests/http2): reading records, running NetScope over a capture
(the real binary, tests/flow/flow_app_driver or the stream driver
tests/tls/app_driver.c), and the loop over capture directories that loads
each oracle expected/<stem>.json, checks the differences against the
script's ACCEPTED table and prints the ok / acc / FAIL lines and the summary.

Every run uses one worker and no idle expiry, so every flow ends once, at the
end of the capture. Python 3 standard library only.
"""
import argparse
import json
import os
import subprocess
import tempfile

# decoder/flow options of every oracle run (YAML keys of the `flows` node;
# `-o flows.KEY=VALUE` for flow_app_driver): no active or idle timeout, no
# device or ARP records.
FLOW_OPTIONS = (
    ("active_timeout", "0s"),
    ("tcp_idle_timeout", "1000000h"),
    ("udp_idle_timeout", "1000000h"),
    ("icmp_idle_timeout", "1000000h"),
    ("other_idle_timeout", "1000000h"),
    ("devices", "false"),
    ("arp", "false"),
)

TIMEOUT = 300  # seconds for one capture


def load_json_lines(text):
    """The JSON object lines of a sink/jsonl or driver output; others are skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def get(d, dotted, default=None):
    """Read a dotted key from a nested record (or a flat one)."""
    if dotted in d:
        return d[dotted]
    cur = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def pipeline_yaml(capture, app=None, app_options=()):
    """`netscope run` configuration: source/pcap -> decoder/flow [-> decoder/APP]
    -> sink/jsonl. app_options: (key, value) pairs for the app decoder."""
    lines = ["netscope: {workers: 1}", "pipeline:",
             '  capture: {plugin: source/pcap, file: "%s"}' % capture.replace('"', '\\"'),
             "  flows:", "    plugin: decoder/flow"]
    lines += ["    %s: %s" % kv for kv in FLOW_OPTIONS]
    if app:
        lines.append("  %s: {plugin: decoder/%s, from: [flows]%s}"
                     % (app, app, "".join(", %s: %s" % kv for kv in app_options)))
    lines.append("  out: {plugin: sink/jsonl}")
    return "\n".join(lines) + "\n"


def _records(p, what):
    if p.returncode != 0:
        raise RuntimeError("%s exit %d: %s" % (what, p.returncode,
                                               p.stderr.decode(errors="replace")[-500:]))
    return load_json_lines(p.stdout.decode(errors="replace"))


def run_netscope(binary, plugin_dir, capture, app=None, app_options=()):
    """Every record of `netscope run` over the capture (the core's graph, end to end)."""
    env = dict(os.environ)
    if plugin_dir:
        env["NETSCOPE_PLUGIN_PATH"] = os.path.realpath(plugin_dir)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(pipeline_yaml(capture, app, app_options))
        cfg = f.name
    try:
        p = subprocess.run([binary, "run", "-q", "-c", cfg, "-r", capture],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=TIMEOUT)
    finally:
        os.unlink(cfg)
    return _records(p, "netscope")


def run_flow_driver(driver, plugin_dir, capture, app, app_options=()):
    """Every record of tests/flow/flow_app_driver: the real decoder/flow and
    decoder/APP .so files from plugin_dir on the fake host."""
    cmd = [driver, os.path.join(plugin_dir, "ns-decoder-flow.so"), capture,
           os.path.join(plugin_dir, "ns-decoder-%s.so" % app)]
    for k, v in FLOW_OPTIONS:
        cmd += ["-o", "flows.%s=%s" % (k, v)]
    for k, v in app_options:
        cmd += ["-o", "%s.%s=%s" % (app, k, v)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    return _records(p, "flow driver")


def run_stream_driver(driver, capture):
    """Every record of a stream driver (tests/tls/app_driver.c) fed the
    capture's TCP streams by pcap_streams.py: the app decoder alone."""
    import pcap_streams  # same directory; only this run mode needs it
    with tempfile.TemporaryFile() as tmp:
        pcap_streams.streams(capture, tmp)
        tmp.seek(0)
        p = subprocess.run([driver], stdin=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
    return _records(p, "driver")


def parse_run_modes(ap):
    """Parse the command line of compare_tls.py and compare_http2.py: one of
    --netscope BIN, --flow-driver BIN (both with --plugin-dir DIR) or --driver
    BIN (a stream driver), [--require], DIR...; returns the arguments for
    run_mode()."""
    ap.add_argument("--netscope")
    ap.add_argument("--plugin-dir", default="")
    ap.add_argument("--driver")
    ap.add_argument("--flow-driver")
    ap.add_argument("--require", action="store_true")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    if not args.netscope and not args.driver and not args.flow_driver:
        ap.error("--netscope, --flow-driver or --driver is required")
    return args


def run_mode(args, capture, app, app_options=()):
    """Every record (app and flow) for the capture in the mode parse_run_modes() chose."""
    if args.flow_driver:
        return run_flow_driver(args.flow_driver, args.plugin_dir, capture, app, app_options)
    if args.driver:
        return run_stream_driver(args.driver, capture)
    return run_netscope(args.netscope, args.plugin_dir, capture, app, app_options)


def run_driver_arg(driver, plugin_dir, capture, app, app_options=()):
    """The --driver of compare_dns.py and compare_http.py: flow_app_driver, or
    netscope:BIN for the real binary."""
    if driver.startswith("netscope:"):
        return run_netscope(driver[len("netscope:"):], plugin_dir, capture, app, app_options)
    return run_flow_driver(driver, plugin_dir, capture, app, app_options)


def upstream_files(capture):
    """(file name, text) of each upstream oracle file kept for the capture in
    upstream/<stem>/ next to expected/ (suricata-verify, Arkime, nDPI), by name."""
    updir = os.path.join(os.path.dirname(capture), "upstream",
                         os.path.basename(capture).rsplit(".", 1)[0])
    if not os.path.isdir(updir):
        return
    for fn in sorted(os.listdir(updir)):
        with open(os.path.join(updir, fn), errors="replace") as fh:
            yield fn, fh.read()


def _clip(msg, width):
    return msg if width is None else msg[:width]


def messages_main(app, title, accepted, compare_capture):
    """main() of compare_dns.py and compare_http.py: the captures whose oracle
    has expected[app]["messages"]; compare_capture(path, expected, driver,
    plugin_dir) -> (diffs, n) with driver as run_driver_arg() takes it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True,
                    help="tests/flow/flow_app_driver, or netscope:BIN to run the real binary")
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--require", action="store_true", help="fail when a directory is missing")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()

    def compare(path, expected):
        return compare_capture(path, expected, args.driver, args.plugin_dir)

    def summary(total, exact, acc, verdict):
        return ("%d captures with %s: %d exact, %d with accepted differences, %s"
                % (total, title, exact, acc, verdict))

    return compare_dirs(args.dirs, args.require, accepted,
                        lambda expected: expected.get(app, {}).get("messages"),
                        compare, "messages", summary, width=300)


def compare_dirs(dirs, require, accepted, select, compare, unit, summary, width=None,
                 explain=False):
    """Compare every capture in dirs that has an oracle expected/<stem>.json for
    which select(expected) is true; return the exit status (0 all explained,
    1 a failure or a stale accepted difference, 77 no capture: ctest's skip).

    compare(path, expected) -> (diffs, n): diffs a list of (label, message),
    n the number of oracle items (printed with unit). accepted maps
    (capture file name, label) or (name, "*") to the reason a difference is
    accepted; one that no longer occurs is stale and fails the run.
    summary(total, exact, accepted_captures, verdict) -> the last line.
    width clips detail messages; explain prints the reason after accepted ones.
    """
    failed = False
    total = exact = acc = 0
    used = set()
    for d in dirs:
        if not os.path.isdir(d):
            print(("missing directory %s" if require else "skip %s (not present)") % d)
            failed |= require
            continue
        for fn in sorted(os.listdir(d)):
            if not fn.endswith((".pcap", ".pcapng")):
                continue
            oracle = os.path.join(d, "expected", fn.rsplit(".", 1)[0] + ".json")
            if not os.path.exists(oracle):
                continue
            with open(oracle) as fh:
                expected = json.load(fh)
            if not select(expected):
                continue
            total += 1
            try:
                diffs, n = compare(os.path.join(d, fn), expected)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("FAIL %s: %s" % (fn, e))
                failed = True
                continue
            unexplained = []
            for label, msg in diffs:
                key = (fn, label) if (fn, label) in accepted else (fn, "*")
                if key in accepted:
                    used.add(key)
                else:
                    unexplained.append((label, msg))
            if not diffs:
                exact += 1
                print("ok   %s (%d %s)" % (fn, n, unit))
            elif not unexplained:
                acc += 1
                print("acc  %s (%d %s, %d accepted differences)" % (fn, n, unit, len(diffs)))
                for label, msg in diffs:
                    reason = accepted.get((fn, label), accepted.get((fn, "*")))
                    print("       %s: %s%s" % (label, _clip(msg, width),
                                               " -- %s" % reason if explain else ""))
            else:
                failed = True
                print("FAIL %s (%d %s)" % (fn, n, unit))
                for label, msg in unexplained:
                    print("       %s: %s" % (label, _clip(msg, width)))
    seen = set()
    for d in dirs:
        if os.path.isdir(d):
            seen |= set(os.listdir(d))
    for key in sorted(accepted):
        if key[0] in seen and key not in used:
            print("stale accepted difference (no longer occurs): %s %s" % key)
            failed = True
    print(summary(total, exact, acc, "FAILED" if failed else "all explained"))
    if failed:
        return 1
    return 77 if total == 0 else 0

