#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""packaging/: the install layout, the systemd unit, the alert rules, the Grafana
dashboard and the Kubernetes manifests.

  - `cmake --install` of this build tree into a temporary DESTDIR has the binary, the
    plugins, the headers, netscope.pc, pipeline.yaml, the unit, the sample and the
    examples; the installed binary lists the installed plugins and runs the built-in
    pipeline on the installed sample;
  - `systemd-analyze verify` passes on the installed unit (skipped with a message
    when systemd-analyze is missing), which has the hardening of the issue;
  - `promtool check rules` and `promtool test rules` pass on the alert rules;
  - the dashboard is valid JSON with the panels the issue names;
  - every manifest parses (PyYAML when installed, `kubectl kustomize` when present),
    the RBAC only lists and watches pods and services, the DaemonSet has hostNetwork,
    the four capabilities and resources, and its pipeline passes check-config.

usage: test_packaging.py SOURCE_DIR BUILD_DIR NETSCOPE
Nothing is installed into the live system; the temporary directory is removed.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC, BUILD, NETSCOPE = sys.argv[1:4]
PKG = os.path.join(SRC, "packaging")
TMP = tempfile.mkdtemp(prefix="ns-ops-pkg-")
FAILURES = []
CAPS = "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_RAW"


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL: " + msg, flush=True)


def run(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def cache_var(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


def install_layout():
    dest = os.path.join(TMP, "root")
    p = run(["cmake", "--install", BUILD], env=dict(os.environ, DESTDIR=dest), timeout=300)
    check(p.returncode == 0, "cmake --install: %s" % p.stderr[-2000:])
    prefix = cache_var("CMAKE_INSTALL_PREFIX") or "/usr/local"
    root = dest + prefix
    sysconf = "/etc" if prefix == "/usr" else prefix + "/etc"
    libdirs = glob.glob(os.path.join(root, "lib*")) + glob.glob(os.path.join(root, "lib", "*-*"))
    plugdir = next((os.path.join(d, "netscope") for d in libdirs
                    if glob.glob(os.path.join(d, "netscope", "ns-*.so"))), None)
    want = [root + "/bin/netscope", root + "/include/netscope/ns_plugin.h",
            root + "/share/netscope/sample.pcapng", dest + sysconf + "/netscope/pipeline.yaml",
            root + "/lib/systemd/system/netscope.service",
            root + "/share/netscope/examples/agent-metrics.yaml",
            root + "/share/netscope/prometheus/netscope-alerts.yml",
            root + "/share/netscope/grafana/netscope-dashboard.json",
            root + "/share/netscope/kubernetes/daemonset.yaml"]
    for w in want:
        check(os.path.isfile(w), "not installed: " + w[len(dest):])
    check(plugdir is not None, "no plugins under $libdir/netscope")
    check(bool(glob.glob(os.path.join(root, "lib*", "**", "pkgconfig", "netscope.pc"),
                         recursive=True)), "netscope.pc not installed")
    if plugdir:
        for so in ("ns-source-pcap.so", "ns-decoder-flow.so", "ns-sink-jsonl.so"):
            check(os.path.isfile(os.path.join(plugdir, so)), "plugin not installed: " + so)
        check(not glob.glob(os.path.join(plugdir, "ns-*-test*.so")), "test fixtures installed")
        env = dict(os.environ, NETSCOPE_PLUGIN_PATH=plugdir)
        p = run([root + "/bin/netscope", "plugins"], env=env)
        check(p.returncode == 0 and "source/pcap" in p.stdout and "decoder/flow" in p.stdout
              and "sink/jsonl" in p.stdout, "installed `netscope plugins`: %s" % p.stdout)
        p = run([root + "/bin/netscope", "run", "-q", "-r",
                 root + "/share/netscope/sample.pcapng"], env=env)
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        check(p.returncode == 0 and any(r["event"]["dataset"] == "netscope.flow" for r in lines),
              "installed netscope on the sample: exit %s, %d lines %s" % (
                  p.returncode, len(lines), p.stderr[-500:]))
        p = run([root + "/bin/netscope", "check-config", dest + sysconf + "/netscope/pipeline.yaml"],
                env=env)
        check(p.returncode == 0, "installed pipeline.yaml: %s" % p.stderr)
    return dest, root


def systemd_unit(dest, root):
    unit = root + "/lib/systemd/system/netscope.service"
    if not os.path.isfile(unit):
        return
    with open(unit) as f:
        text = f.read()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "CapabilityBoundingSet=" + CAPS, "AmbientCapabilities=" + CAPS,
                 "StateDirectory=netscope"):
        check("\n" + line + "\n" in text, "unit lacks " + line)
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed "
              "(apt-get install systemd)")
        return
    # verify checks that ExecStart exists: point it at the DESTDIR copy.
    vdir = os.path.join(TMP, "unit")
    os.makedirs(vdir)
    vunit = os.path.join(vdir, "netscope.service")
    prefix = root[len(dest):]
    with open(vunit, "w") as f:
        f.write(text.replace("ExecStart=%s/bin/netscope" % prefix, "ExecStart=%s/bin/netscope"
                             % root))
    p = run([sa, "verify", "--man=no", vunit])
    out = (p.stdout + p.stderr).strip()
    check(p.returncode == 0 and "netscope.service" not in out,
          "systemd-analyze verify: exit %s: %s" % (p.returncode, out))
    print("systemd-analyze verify netscope.service: exit %s %s" % (p.returncode, out))


def prometheus_rules():
    pt = shutil.which("promtool")
    if not pt:
        print("SKIP promtool checks: promtool is not installed (Debian package prometheus)")
        return
    d = os.path.join(PKG, "prometheus")
    p = run([pt, "check", "rules", "netscope-alerts.yml"], cwd=d)
    check(p.returncode == 0, "promtool check rules: %s %s" % (p.stdout, p.stderr))
    print(p.stdout.strip())
    p = run([pt, "test", "rules", "netscope-alerts.test.yml"], cwd=d)
    check(p.returncode == 0, "promtool test rules: %s %s" % (p.stdout, p.stderr))
    p = run([pt, "check", "config", "prometheus.yml"], cwd=d)
    check(p.returncode == 0, "promtool check config: %s %s" % (p.stdout, p.stderr))
    with open(os.path.join(d, "netscope-alerts.yml")) as f:
        rules = f.read()
    for name in ("NetScopeAgentDown", "NetScopePipelineDrops", "NetworkPacketLoss",
                 "NetworkTCPRetransmissionRateHigh"):
        check("alert: " + name in rules, "no alert " + name)


def dashboard():
    with open(os.path.join(PKG, "grafana", "netscope-dashboard.json")) as f:
        d = json.load(f)
    titles = " ".join(p["title"] for p in d["panels"]).lower()
    for want in ("rtt", "retransmissions", "throughput", "drops", "ready", "agents up",
                 "records in"):
        check(want in titles, "dashboard has no panel about " + want)
    exprs = " ".join(t["expr"] for p in d["panels"] for t in p.get("targets", []))
    for m in ("network_observability_tcp_rtt_avg_nanoseconds",
              "network_observability_tcp_retransmissions_total",
              "netscope_node_records_dropped_total", "netscope_ring_depth"):
        check(m in exprs, "dashboard does not use " + m)


def kubernetes():
    d = os.path.join(PKG, "kubernetes")
    try:
        import yaml  # noqa: PLC0415 - optional
    except ImportError:
        print("SKIP manifest parsing: PyYAML (python3-yaml) is not installed")
        return
    docs = []
    for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        with open(f) as fh:
            docs += [x for x in yaml.safe_load_all(fh) if x]
    kinds = {x["kind"]: x for x in docs}
    for k in ("Namespace", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
              "Service", "ServiceMonitor", "ConfigMap", "Kustomization"):
        check(k in kinds, "no %s manifest" % k)
    rules = kinds.get("ClusterRole", {}).get("rules", [])
    check(all(sorted(r["verbs"]) == ["list", "watch"] and
              set(r["resources"]) <= {"pods", "services"} for r in rules) and rules,
          "ClusterRole is more than list/watch pods and services: %r" % rules)
    ds = kinds.get("DaemonSet", {}).get("spec", {}).get("template", {}).get("spec", {})
    check(ds.get("hostNetwork") is True, "DaemonSet without hostNetwork")
    c = (ds.get("containers") or [{}])[0]
    caps = c.get("securityContext", {}).get("capabilities", {})
    check(sorted(caps.get("add", [])) == ["BPF", "NET_ADMIN", "NET_RAW", "PERFMON"] and
          caps.get("drop") == ["ALL"], "DaemonSet capabilities: %r" % caps)
    res = c.get("resources", {})
    check("requests" in res and "limits" in res, "DaemonSet without requests and limits")
    cm = kinds.get("ConfigMap", {}).get("data", {}).get("pipeline.yaml")
    if cm:
        f = os.path.join(TMP, "k8s-pipeline.yaml")
        with open(f, "w") as fh:
            fh.write(cm)
        p = run([NETSCOPE, "check-config", f])
        check(p.returncode == 0, "ConfigMap pipeline: %s" % p.stderr)
    kc = shutil.which("kubectl")
    if kc:
        p = run([kc, "kustomize", d])
        check(p.returncode == 0 and p.stdout.count("\nkind: ") + p.stdout.startswith("kind:") >= 7,
              "kubectl kustomize: %s" % p.stderr)
    else:
        print("SKIP kubectl kustomize: kubectl is not installed")


if __name__ == "__main__":
    try:
        dest, root = install_layout()
        systemd_unit(dest, root)
        prometheus_rules()
        dashboard()
        kubernetes()
    except Exception as e:  # noqa: BLE001 - any failure fails the test
        FAILURES.append(repr(e))
        print("FAIL: %r" % e)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("packaging: %s" % ("ok" if not FAILURES else "%d failure(s)" % len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
