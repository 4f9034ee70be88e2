#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Integration tests of the `netscope` command line (run by ctest, one case each).

usage: test_cli.py NETSCOPE FIXTURES_DIR CONFIGS_DIR CASE

NETSCOPE is the built binary, FIXTURES_DIR the tests/abi fixture tree
(good/, bad/, dup1/, dup2/, initfail/), CONFIGS_DIR tests/cli/configs. Each
bad-*.yaml there starts with "# expect: {file}:L:C: error: ...", the one error
line check-config must print for it.

The binary is copied into a temporary directory first: run from the build tree it
would also search the build's plugin directory, whose plugins are not ours to
depend on. Every run has a timeout, and any sanitizer report, crash or signal
fails the case.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

NETSCOPE, FX, CONFIGS, CASE = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="ns-cli-")
BIN = os.path.join(TMP, "netscope")
shutil.copy2(NETSCOPE, BIN)
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL: " + msg)


def run(args, path=None, timeout=30):
    """Runs netscope with NETSCOPE_PLUGIN_PATH=path (dirs under FX); returns (rc, out, err)."""
    env = dict(os.environ)
    env.pop("NETSCOPE_PLUGIN_PATH", None)
    if path is not None:
        env["NETSCOPE_PLUGIN_PATH"] = ":".join(os.path.join(FX, d) for d in path)
    try:
        p = subprocess.run([BIN] + args, env=env, cwd=TMP, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        check(False, "netscope %s: hung (no exit within %ds)" % (" ".join(args), timeout))
        return None, "", ""
    what = "netscope " + " ".join(args)
    check(p.returncode >= 0, "%s: killed by signal %d\n%s" % (what, -p.returncode, p.stderr))
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Segmentation fault"):
        check(bad not in p.stderr, "%s: %s report:\n%s" % (what, bad, p.stderr))
    return p.returncode, p.stdout, p.stderr


def error_lines(err):
    return [l for l in err.splitlines() if "error" in l]


# ---- cases ------------------------------------------------------------------

def case_version():
    for arg in ("version", "--version"):
        rc, out, err = run([arg])
        check(rc == 0, "%s: exit %s" % (arg, rc))
        check(re.fullmatch(r"netscope \d+\.\d+\.\d+ \(plugin ABI 1\.1, record schema 1\)\n", out)
              is not None, "%s: stdout %r" % (arg, out))
        check(err == "", "%s: stderr %r" % (arg, err))


def case_help():
    for arg in ("help", "--help", "-h"):
        rc, out, err = run([arg])
        check(rc == 0, "%s: exit %s" % (arg, rc))
        check(out.startswith("usage: netscope <command> [options]\n"), "%s: %r" % (arg, out[:80]))
        for cmd in ("run", "check-config FILE", "plugins", "describe KIND/NAME", "version"):
            check(cmd in out, "%s: usage lacks %r" % (arg, cmd))


def case_unknown_command():
    rc, out, err = run(["frobnicate"])
    check(rc == 2, "exit %s" % rc)
    check(err.startswith("netscope: error: unknown command 'frobnicate'\nusage: netscope"),
          "stderr %r" % err[:120])
    check(out == "", "stdout %r" % out)
    rc, out, err = run(["plugin"])
    check(rc == 2, "exit %s" % rc)
    check(err.startswith("netscope: error: unknown command 'plugin' (did you mean 'plugins'?)\n"),
          "stderr %r" % err[:120])
    rc, out, err = run(["chek-config", "x.yaml"])
    check(err.startswith("netscope: error: unknown command 'chek-config' (did you mean "
                         "'check-config'?)\n"), "stderr %r" % err[:120])


GOOD_IDS = ["decoder/fx", "detector/fx", "enricher/fx", "sink/fx", "source/fx", "source/fxrec"]


def listed(out):
    rows = out.split("\n\n")[0].splitlines()
    return [r.split()[0] for r in rows[1:]]


def case_plugins_good():
    rc, out, err = run(["plugins"], path=["good"])
    check(rc == 0, "exit %s, stderr %r" % (rc, err))
    check(err == "", "stderr %r" % err)
    lines = out.splitlines()
    check(lines[0].split() == ["PLUGIN", "VERSION", "SUMMARY"], "header %r" % lines[0])
    check(listed(out) == GOOD_IDS, "listed %r" % listed(out))
    check(re.search(r"^decoder/fx +1\.2\.3 +fixture decoder with every option type$", out, re.M)
          is not None, "decoder row missing:\n" + out)
    check(("\nsearch path: %s/good " % FX) in out, "search path line:\n" + out)
    # `plugins` also works on an empty path, with nothing listed.
    rc, out, err = run(["plugins"], path=[])
    check(rc == 0 and listed(out) == [], "empty path: exit %s, %r" % (rc, out))
    rc, out, err = run(["plugins", "extra"], path=["good"])
    check(rc == 2 and err == "usage: netscope plugins\n", "extra arg: exit %s, %r" % (rc, err))


def case_plugins_refusals():
    rc, out, err = run(["plugins"], path=["good", "bad", "dup1", "dup2", "compat"])
    check(rc == 1, "exit %s (refusals must exit 1)" % rc)
    refused = [l for l in err.splitlines() if l.startswith("netscope: refused ")]
    check(len(refused) == len(err.splitlines()), "stderr has other lines:\n" + err)
    want = {
        "bad/ns-decoder-badmajor.so": "built for plugin ABI 99.7, but this netscope has ABI 1.1",
        "bad/ns-decoder-shortdesc.so": "descriptor is 24 bytes, shorter than the",
        "bad/ns-decoder-nosym.so": "no 'ns_plugin' symbol",
        "bad/ns-decoder-liar.so": "bytes, but the 'ns_plugin' symbol is only 24 bytes",
        "bad/ns-decoder-tiny.so": "the 'ns_plugin' symbol is only 4 bytes",
        "bad/ns-sink-kindmix.so": "kind mismatch: the file name says 'sink' but the descriptor "
                                  "says 'decoder'",
        "bad/ns-decoder-namemix.so": "name mismatch: the file name says 'namemix' but the "
                                     "descriptor says 'other'",
        "bad/ns-enricher-nocb.so": "lacks the required callback 'process'",
        "bad/ns-source-norun.so": "lacks the required callback 'run or start'",
        "bad/ns-decoder-appnodata.so": "lacks the required callback 'app_data'",
        "bad/ns-detector-badkind.so": "invalid kind 42",
        "bad/ns-sink-noname.so": "descriptor has no name",
        "bad/ns-decoder-garbage.so": "cannot load:",
        "dup2/ns-enricher-dup.so": "duplicate plugin enricher/dup, already loaded from %s/dup1/"
                                   "ns-enricher-dup.so" % FX,
    }
    for f, reason in want.items():
        lines = [l for l in refused if l.startswith("netscope: refused %s/%s: " % (FX, f))]
        check(len(lines) == 1, "%s: %d refusal lines in:\n%s" % (f, len(lines), err))
        check(any(reason in l for l in lines), "%s: no %r in %r" % (f, reason, lines))
    check(len(refused) == len(want), "%d refusals, want %d:\n%s" % (len(refused), len(want), err))
    check(listed(out) == GOOD_IDS + ["enricher/dup", "sink/newer", "sink/older"],
          "listed %r" % listed(out))


def describe(fmt_args, plugin="decoder/fx"):
    return run(["describe", plugin] + fmt_args, path=["good"])


def case_describe_text():
    for args in ([], ["--format", "text"], ["--format=text"]):
        rc, out, err = describe(args)
        check(rc == 0 and err == "", "%s: exit %s %r" % (args, rc, err))
        check(out.startswith("decoder/fx 1.2.3 (ABI 1.1)\n  fixture decoder with every option "
                             "type\n\nOptions:\n"), "%s: %r" % (args, out[:120]))
        check(re.search(r"^  count +uint +default: 16  range: 1\.\.256$", out, re.M) is not None,
              "count row:\n" + out)
        check("hunter2" not in out, "secret default printed")
    rc, out, err = describe([], "sink/fx")
    check(rc == 0 and out.endswith("\n  No options.\n"), "sink/fx: %r" % out)


def case_describe_md():
    for args in (["--format", "md"], ["--format", "markdown"]):
        rc, out, err = describe(args)
        check(rc == 0 and err == "", "%s: exit %s %r" % (args, rc, err))
        check(out.startswith("### decoder/fx 1.2.3\n\nfixture decoder with every option type\n\n"
                             "| option | type | default | range | description |\n"
                             "| --- | --- | --- | --- | --- |\n"), "%r" % out[:200])
        rows = [l for l in out.splitlines() if l.startswith("| `")]
        check(len(rows) == 13, "%d option rows" % len(rows))
        # A raw '|' would split the GFM cell: every row has exactly 6 unescaped pipes.
        check("| `mode` | enum | `safe` | fast\\|safe\\|paranoid |" in out, "mode row:\n" + out)
        for l in rows:
            check(len(re.findall(r"(?<!\\)\|", l)) == 6, "unescaped | in row %r" % l)
        check("hunter2" not in out, "secret default printed")


def case_describe_json():
    for plugin in ("decoder/fx", "detector/fx", "sink/fx", "source/fxrec"):
        rc, out, err = describe(["--format", "json"], plugin)
        check(rc == 0 and err == "", "%s: exit %s %r" % (plugin, rc, err))
        try:
            doc = json.loads(out)
        except ValueError as e:
            check(False, "%s: invalid JSON (%s): %r" % (plugin, e, out))
            continue
        check(doc["plugin"] == plugin, "plugin %r" % doc.get("plugin"))
        check(doc["abi"] == "1.1", "abi %r" % doc.get("abi"))
        if plugin == "decoder/fx":
            names = [o["name"] for o in doc["options"]]
            check(names == ["flag", "delta", "count", "ratio", "buffer", "timeout", "label",
                            "mode", "tags", "path", "token", "old_count", "live"],
                  "names %r" % names)
            opt = {o["name"]: o for o in doc["options"]}
            check(opt["count"]["min"] == 1 and opt["count"]["max"] == 256, "count %r" % opt["count"])
            check(opt["mode"]["choices"] == ["fast", "safe", "paranoid"], "mode %r" % opt["mode"])
            check(opt["label"]["doc"] == 'A "quoted" string.', "label doc %r" % opt["label"]["doc"])
            check("default" not in opt["token"] and opt["token"]["secret"] is True,
                  "token %r" % opt["token"])
            check(opt["old_count"]["deprecated"] is True, "old_count %r" % opt["old_count"])
            check(opt["live"]["reloadable"] is True, "live %r" % opt["live"])
        if plugin == "detector/fx":
            check(doc["options"][0]["required"] is True, "threshold %r" % doc["options"][0])
        if plugin == "sink/fx":
            check(doc["options"] == [], "sink options %r" % doc["options"])


def case_describe_errors():
    rc, out, err = describe([], "decoder/fz")
    check(rc == 1, "unknown plugin: exit %s" % rc)
    check(err == "netscope: error: unknown plugin 'decoder/fz' (did you mean 'decoder/fx'?)\n",
          "unknown plugin: %r" % err)
    rc, out, err = describe([], "decoder/badmajor")
    check(rc == 1, "no such plugin on the path: exit %s" % rc)
    rc, out, err = run(["describe", "decoder/badmajor"], path=["bad"])
    check(rc == 1 and err.startswith("netscope: error: %s/bad/ns-decoder-badmajor.so: built for "
                                     "plugin ABI 99.7" % FX), "refused plugin: %s %r" % (rc, err))
    rc, out, err = describe(["--format", "yaml"])
    check(rc == 2 and err == "netscope: error: unknown format 'yaml' (text, md or json)\n",
          "bad format: %s %r" % (rc, err))
    rc, out, err = run(["describe"], path=["good"])
    check(rc == 2 and err.startswith("usage: netscope describe"), "no plugin: %s %r" % (rc, err))
    rc, out, err = run(["describe", "decoder/fx", "sink/fx"], path=["good"])
    check(rc == 2, "two plugins: exit %s" % rc)


def check_config(path, plugin_path=("good",)):
    return run(["check-config", path], path=list(plugin_path))


def case_check_good():
    f = os.path.join(CONFIGS, "good.yaml")
    rc, out, err = check_config(f)
    check(rc == 0, "exit %s: %s" % (rc, err))
    check(out == "%s: ok (5 nodes)\n" % f, "stdout %r" % out)
    check(err == "", "stderr %r" % err)
    check_config(os.path.join(CONFIGS, "initfail.yaml"), ("good", "initfail"))
    # The legacy spelling works too.
    rc, out, err = run(["--check-config", f], path=["good"])
    check(rc == 0, "--check-config: exit %s" % rc)


def case_check_bad_files():
    files = sorted(glob.glob(os.path.join(CONFIGS, "bad-*.yaml")))
    check(len(files) >= 20, "only %d bad configs" % len(files))
    for f in files:
        with open(f, encoding="utf-8") as fh:
            first = fh.readline()
        m = re.match(r"# expect: (.*)\n", first)
        if not m:
            check(False, "%s: no '# expect:' line" % f)
            continue
        want = m.group(1).replace("{file}", f)
        rc, out, err = check_config(f)
        name = os.path.basename(f)
        check(rc == 1, "%s: exit %s" % (name, rc))
        check(out == "", "%s: stdout %r" % (name, out))
        errs = error_lines(err)
        check(errs == [want], "%s:\n  want %s\n  got  %s" % (name, want, "\n       ".join(errs)))


def case_check_file_errors():
    missing = os.path.join(TMP, "missing.yaml")
    rc, out, err = check_config(missing)
    check(rc == 1 and err == "%s: error: cannot open: No such file or directory\n" % missing,
          "missing: %s %r" % (rc, err))
    rc, out, err = check_config(TMP)
    check(rc == 1 and err == "%s: error: cannot read (is it a directory?)\n" % TMP,
          "directory: %s %r" % (rc, err))
    binf = os.path.join(TMP, "capture.pcap")
    with open(binf, "wb") as fh:
        fh.write(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16))
    rc, out, err = check_config(binf)
    check(rc == 1 and err == "%s: error: contains NUL bytes: not a YAML pipeline file\n" % binf,
          "binary: %s %r" % (rc, err))
    huge = os.path.join(TMP, "huge.yaml")
    with open(huge, "w") as fh:
        fh.write("# " + "x" * (5 << 20) + "\n")
    rc, out, err = check_config(huge)
    check(rc == 1 and err == "%s: error: larger than 4194304 bytes: not a pipeline file\n" % huge,
          "huge: %s %r" % (rc, err))
    rc, out, err = run(["check-config"])
    check(rc == 2 and err == "usage: netscope check-config FILE\n", "no file: %s %r" % (rc, err))
    rc, out, err = run(["check-config", "a", "b"])
    check(rc == 2, "two files: exit %s" % rc)


def case_run_missing_config():
    missing = os.path.join(TMP, "nope.yaml")
    rc, out, err = run(["run", "-c", missing], path=["good"])
    check(rc == 1, "exit %s" % rc)
    check(err == "%s: error: cannot open: No such file or directory\n" % missing, "stderr %r" % err)


def case_run_malformed_yaml():
    f = os.path.join(CONFIGS, "bad-yaml.yaml")
    rc, out, err = run(["run", "-c", f], path=["good"])
    check(rc == 1, "exit %s" % rc)
    check(error_lines(err) == ["%s:6:1: error: invalid YAML: did not find expected ',' or ']' "
                               "while parsing a flow sequence" % f], "stderr %r" % err)
    f = os.path.join(CONFIGS, "bad-cycle.yaml")
    rc, out, err = run(["run", "--config", f], path=["good"])
    check(rc == 1 and error_lines(err) == ["%s:7:3: error: the pipeline has a cycle: a <- b <- a"
                                           % f], "cycle: %s %r" % (rc, err))


def case_run_init_fails():
    f = os.path.join(CONFIGS, "initfail.yaml")
    rc, out, err = run(["run", "-c", f], path=["good", "initfail"], timeout=20)
    if rc is None:
        return
    check(rc != 0, "exit 0 although init failed")
    check(out == "", "stdout %r" % out)
    fails = [l for l in err.splitlines() if "init failed" in l]
    check(len(fails) == 1, "want one 'init failed' line:\n" + err)
    check(any("failinit" in l and "out" in l and "Permission denied" in l for l in fails),
          "the init line must name the plugin, node and reason:\n" + err)


def case_run_good_pipeline():
    # Sanity check for run_init_fails: the same pipeline with a working sink runs
    # to the end (the fixture source finishes at once) and exits 0.
    f = os.path.join(TMP, "ok.yaml")
    with open(f, "w") as fh:
        fh.write("netscope:\n  metrics_listen: \"\"\n"
                 "pipeline:\n  capture: {plugin: source/fx}\n  decode: {plugin: decoder/fx}\n"
                 "  out: {plugin: sink/fx}\n")
    rc, out, err = run(["run", "-c", f, "-q"], path=["good"], timeout=20)
    check(rc == 0, "exit %s:\n%s" % (rc, err))


def case_run_usage_errors():
    rc, out, err = run(["run", "--bogus"], path=["good"])
    check(rc == 2, "--bogus: exit %s" % rc)
    rc, out, err = run(["run", "-r", "a.pcap", "-i", "eth0"], path=["good"])
    check(rc == 2 and err == "netscope: error: -r and -i exclude each other\n",
          "-r/-i: %s %r" % (rc, err))
    rc, out, err = run(["run", "stray"], path=["good"])
    check(rc == 2 and err == "netscope: error: unexpected argument 'stray'\n",
          "stray: %s %r" % (rc, err))
    rc, out, err = run(["run", "-l", "loud"], path=["good"])
    check(rc == 2 and err.startswith("netscope: error: unknown log level 'loud'"),
          "-l loud: %s %r" % (rc, err))
    f = os.path.join(CONFIGS, "good.yaml")
    rc, out, err = run(["run", "-c", f, "-r", "x.pcap"], path=["good"])
    check(rc == 1 and err == "%s: error: -r/-i need a source/pcap node in the pipeline\n" % f,
          "-r without source/pcap: %s %r" % (rc, err))
    rc, out, err = run(["run", "-c", f, "-w", "many"], path=["good"])
    check(rc == 1 and "--workers: 'workers' expects a non-negative integer, got 'many'" in err,
          "-w many: %s %r" % (rc, err))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    try:
        if CASE not in CASES:
            print("unknown case %r; cases: %s" % (CASE, " ".join(sorted(CASES))))
            sys.exit(2)
        CASES[CASE]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed in case %s" % (len(FAILURES), CASE))
        sys.exit(1)
    print("ok: " + CASE)
