#!/usr/bin/env python3
"""Pre-provisioning end to end: shadowtap-gen -> shadowtap-dp -> ring ->
shadowtap-cp (policy, hook, nexthop actuator) -> the kernel's nexthop group,
run twice side by side on the same capture: with the predictive inputs
(the default) and with --reactive-only.

A pool of two backends, b0 active and b1 a standby, each taking 400
records/s; the stream's load follows NAB's nyc_taxi trace (30-minute rows
compressed to 6 s, peak 1000 records/s).  The pool scales up at 80%
utilisation.  Oracles: the generator's truth (the epoch at which the load
first passes the active backend's 400 records/s) and the kernel's own view
of the group (`ip -j nexthop show`); the hook's stdin is parsed as JSON
here.

Pace: the capture (150 s) is replayed at 10 times its own pace
(shadowtap-dp --pace 10), so that the hook's few milliseconds of wall time
cost a small fraction of an epoch, as live; the replay's wall time is
checked against the pace.

Needs root (network namespaces).  Environment: SHADOWTAP_GEN, SHADOWTAP_DP,
SHADOWTAP_CP, SHADOWCTL, SHADOWTAP_SHARED_DATA.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]
DATA = os.environ.get("SHADOWTAP_SHARED_DATA",
                      os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
TAXI = os.path.join(DATA, "traces", "nab", "realKnownCause", "nyc_taxi.csv")
BACKEND_RPS = 400
DURATION_S = 150
PACE = 10
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


CONFIG = """
defaults = { key_fields = [ "/user/id" ]; };
streams = { rules = (
    { name = "surge"; protocol = "kafka"; match = "surge"; pool = "ingest";
      capacity_rps = %(cap)d.0; }
); };
detectors = { season_s = 0; forecast_horizon_s = 60; };
pools = ( { name = "ingest"; backend_capacity_rps = %(cap)d.0; min_backends = 1;
            max_backends = 2; } );
backends = (
    { name = "b0"; pool = "ingest"; address = "10.77.0.10"; },
    { name = "b1"; pool = "ingest"; address = "10.77.0.11"; standby = true; }
);
policy = { cooldown_s = 30; scale_up_utilization = 0.8; scale_down_utilization = 0.2; };
actuators = {
    nexthop = { enabled = true; group_id = 900; resilient = { buckets = 32; idle_timer_s = 0; };
                route = "198.51.100.9/32"; table = 100; };
    hook = { command = [ "/bin/sh", "%(hook)s" ]; timeout_ms = 5000; };
};
"""

HOOK = """#!/bin/sh
# the pre-provisioning hook: keeps the decision it was given, reports ready
cat > "%s.$$"
exit 0
"""


def run(tmp, name, cap, reactive_only):
    ns = "st-pp-%s-%d" % (name, os.getpid())
    hook = os.path.join(tmp, name + ".hook.sh")
    hook_out = os.path.join(tmp, name + ".hook-stdin")
    conf = os.path.join(tmp, name + ".conf")
    sock = os.path.join(tmp, name + ".sock")
    events = os.path.join(tmp, name + ".events.jsonl")
    inst = "pp%d%s" % (os.getpid(), name)
    with open(hook, "w") as f:
        f.write(HOOK % hook_out)
    with open(conf, "w") as f:
        f.write(CONFIG % {"cap": BACKEND_RPS, "hook": hook})
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for args in (["link", "add", "sw0", "type", "veth", "peer", "name", "sw1"],
                     ["link", "set", "sw0", "up"], ["link", "set", "sw1", "up"],
                     ["addr", "add", "10.77.0.1/24", "dev", "sw0"]):
            subprocess.run(["ip", "-n", ns, *args], check=True)
        cmd = ["ip", "netns", "exec", ns, CP, "--config", conf, "--instance", inst,
               "--state-dir", os.path.join(tmp, name + ".state"), "--socket", sock,
               "--prometheus", "off", "--event-log", events]
        if reactive_only:
            cmd.append("--reactive-only")
        cp = subprocess.Popen(cmd, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 30
            while not os.path.exists(sock) and time.time() < deadline:
                time.sleep(0.05)
            t0 = time.monotonic()
            dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--config", conf,
                                 "--ring-mib", "64", "--pace", str(PACE)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            took = time.monotonic() - t0
            check(dp.returncode == 0, f"{name}: shadowtap-dp exit {dp.returncode}")
            check(took >= 0.95 * DURATION_S / PACE,
                  f"{name}: a {DURATION_S} s capture at pace {PACE} took {took:.1f} s")
            last, still = -1, 0
            while still < 10 and time.time() < deadline + 120:
                r = subprocess.run([CTL, "cp-status", "--json", "--socket", sock],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                n = json.loads(r.stdout)["profiles"]["parsed"] if r.returncode == 0 else -1
                still = still + 1 if n == last else 0
                last = n
                time.sleep(0.2)
            r = subprocess.run([CTL, "decisions", "--json", "--count", "1024", "--socket", sock],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            check(r.returncode == 0, f"{name}: shadowctl decisions: {r.stderr!r}")
            via_socket = json.loads(r.stdout).get("decisions", []) if r.returncode == 0 else []
        finally:
            cp.terminate()
            cp.wait(timeout=30)
            for suffix in ("", ".status"):  # the data plane's ring and status page
                if os.path.exists(f"/dev/shm/shadowtap-{inst}{suffix}"):
                    os.unlink(f"/dev/shm/shadowtap-{inst}{suffix}")
        group = json.loads(subprocess.run(["ip", "-n", ns, "-j", "nexthop", "show", "id", "900"],
                                          stdout=subprocess.PIPE).stdout or b"[{}]")[0]
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    decisions, hook_events = [], []
    with open(events) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event") == "decision":
                decisions.append(ev)
            elif ev.get("event") == "hook":
                hook_events.append(ev)
    hooks = []
    for fn in os.listdir(tmp):
        if fn.startswith(name + ".hook-stdin."):
            with open(os.path.join(tmp, fn)) as f:
                hooks.append(json.load(f))
    return decisions, via_socket, group, hooks, hook_events


def main():
    with tempfile.TemporaryDirectory(prefix="st-pp-") as tmp:
        cap = os.path.join(tmp, "surge.pcap")
        subprocess.run([GEN, "-q", "-o", cap, "-d", f"{DURATION_S}s", "--seed", "3",
                        "--stream", f"kafka:surge,shape=trace:{TAXI},peak=1000,keys=1000"],
                       check=True)
        with open(cap + ".truth.json") as f:
            truth = json.load(f)
        start, epoch = truth["start_ns"], truth["epoch_ns"]
        rates = [e["records"] * 1e9 / epoch for e in truth["streams"][0]["epochs"]]
        crossing = next(i for i, r in enumerate(rates) if r > BACKEND_RPS)
        results = {}
        for name, reactive in (("combined", False), ("reactive", True)):
            decisions, via_socket, group, hooks, hook_events = run(tmp, name, cap, reactive)
            ep = lambda d: (d["data_time_ns"] - start) // epoch - 1  # the epoch judged
            ups = [d for d in decisions if d["kind"] == "scale_up"]
            check(ups, f"{name}: no scale_up decision: {[(d['kind'], d['result']) for d in decisions]}")
            check(len(via_socket) == len(decisions),
                  f"{name}: shadowctl decisions shows {len(via_socket)}, the log {len(decisions)}")
            joined = [d for d in decisions if d["result"] == "applied" and
                      any(t["name"] == "b1" for t in d.get("table", []))]
            members = {m["id"]: m.get("weight", 1) for m in group.get("group", [])}
            check(902 in members and 901 in members,
                  f"{name}: the kernel's group holds {members}, not b0 (901) and b1 (902)")
            check(hooks and hooks[0].get("kind") == "scale_up" and hooks[0].get("backend") == "b1",
                  f"{name}: the hook got {hooks[:1]}")
            check(hook_events and hook_events[0]["ready"],
                  f"{name}: the hook did not report ready: {hook_events}")
            if ups:
                up = ups[0]
                # wall time from the decision to the hook's exit, both as the
                # event log stamped them
                hook_ms = ((hook_events[0]["time_ns"] - up["time_ns"]) / 1e6
                           if hook_events else float("nan"))
                results[name] = (ep(up), ep(joined[0]) if joined else None, up["triggers"])
                print(f"{name:9s}: scale_up of {up['backend']} judged at epoch {ep(up)} "
                      f"({', '.join(up['triggers'])}: "
                      f"{'; '.join(r['text'] for r in up['reasons'])}); "
                      f"b1 in the kernel's table from epoch "
                      f"{ep(joined[0]) if joined else None} (the hook took {hook_ms:.1f} ms); "
                      f"hook runs {len(hooks)}; kernel group {members}")
        print(f"the load first passes {BACKEND_RPS} rec/s (b0's capacity) at epoch {crossing} "
              f"({rates[crossing]:.0f} rec/s)")
        if "combined" in results and "reactive" in results:
            c, r = results["combined"], results["reactive"]
            print(f"lead time: predictive scale_up {crossing - c[0]} s before the crossing, "
                  f"b1 routed {crossing - c[1] if c[1] is not None else None} s before; "
                  f"reactive-only scale_up {crossing - r[0]} s before, "
                  f"b1 routed {crossing - r[1] if r[1] is not None else None} s before")
            check("predictive" in c[2], f"combined: first scale_up triggers {c[2]}")
            check(c[0] < crossing, f"combined: scale_up at {c[0]}, crossing {crossing}")
            check(c[1] is not None and c[1] < crossing,
                  f"combined: b1 routed at {c[1]}, crossing {crossing}")
            check(c[0] < r[0], f"reactive-only ({r[0]}) is not later than combined ({c[0]})")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("pre-provisioning: the standby routed ahead of the crossing, reactive-only later")
    return 0


if __name__ == "__main__":
    sys.exit(main())
