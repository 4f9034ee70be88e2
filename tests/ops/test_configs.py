#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every example pipeline in configs/ is valid (`netscope check-config` exits 0),
starts with a comment saying what it is for, and is listed in configs/README.md.
A file that needs an eBPF plugin this build could not make is reported as SKIP.

usage: test_configs.py NETSCOPE CONFIGS_DIR
The binary runs from the build tree, so it finds the plugins built with it.
"""
import glob
import os
import subprocess
import sys

NETSCOPE, CONFIGS = sys.argv[1:3]
failures = []
files = sorted(glob.glob(os.path.join(CONFIGS, "*.yaml")))
with open(os.path.join(CONFIGS, "README.md"), encoding="utf-8") as f:
    readme = f.read()
env = {k: v for k, v in os.environ.items() if k != "NETSCOPE_PLUGIN_PATH"}
for path in files:
    name = os.path.basename(path)
    p = subprocess.run([NETSCOPE, "check-config", path], capture_output=True, text=True,
                       timeout=30, env=env)
    ok = p.returncode == 0
    # The eBPF plugins are built only with clang, bpftool, libbpf and BTF (bpf/).
    skip = not ok and "unknown plugin 'source/ebpf_" in p.stderr
    print("%-4s %s %s" % ("ok" if ok else "SKIP" if skip else "FAIL", name,
                          (p.stdout + p.stderr).strip()))
    if not ok and not skip:
        failures.append(name)
    with open(path, encoding="utf-8") as f:
        if not f.readline().startswith("#"):
            failures.append(name + ": no comment at the top saying what it is for")
    if "`%s`" % name not in readme:
        failures.append(name + ": not listed in configs/README.md")
if len(files) < 3:
    failures.append("only %d example pipelines" % len(files))
for f in failures:
    print("FAIL: " + f)
sys.exit(1 if failures else 0)
