#!/usr/bin/env python3
"""Pre-provisioning end to end: shadowtap-gen -> shadowtap-dp -> ring ->
shadowtap-cp (policy, hook, nexthop actuator) -> the kernel's nexthop group,
run twice side by side on the same capture: with the predictive inputs
(the default) and with --reactive-only.

A pool of two backends, b0 active and b1 a standby, each taking 400
records/s; the stream's load follows NAB's nyc_taxi trace (30-minute rows
compressed to 6 s, peak 1000 records/s).  The pool scales up at 80%
utilisation.  Oracles: the generator's truth (the epoch at which the load
first passes the active backend's 400 records/s), the kernel's own view
of the group (`ip -j nexthop show`), the hook's stdin (parsed as JSON
here), and real traffic: the daemon's namespace is the switch, each backend
is a namespace behind a bridge with the VIP on its loopback, a sender in
the switch sends UDP datagrams on 64 flows to the VIP every 50 ms (routed
by table 100, where the actuator's route points at the group; multipath
hashed on L4) and each backend's socket stamps what it receives.  "b1
takes traffic" is the first datagram b1's socket received, mapped to trace
time through the replay's start and pace.  The replay's start-up is not
subtracted, so the mapped epoch is late by that much (about two epochs
here), never early: the lead time printed is a lower bound.

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

VIP, VIP_PORT = "198.51.100.9", 5000

# In the switch namespace: one datagram per flow (source ports 41000..41063)
# every 50 ms until terminated; prints datagrams sent and refused (no route
# yet).
SENDER = r"""
import signal, socket, sys, time
vip, port = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 41000 + i))
    socks.append(s)
sent = refused = 0
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop:
    for s in socks:
        try:
            s.sendto(b"x", (vip, port))
            sent += 1
        except OSError:
            refused += 1
    time.sleep(0.05)
print(sent, refused)
"""

# In a backend namespace: per source port, the wall time of the first and
# last datagram and how many; printed when terminated.
RECEIVER = r"""
import select, signal, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
flows, stop = {}, []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop:
    try:
        if not select.select([s], [], [], 0.1)[0]:
            continue
        _, (addr, sport) = s.recvfrom(64)
    except InterruptedError:
        continue
    now = time.time()
    first, _, n = flows.get(sport, (now, now, 0))
    flows[sport] = (first, now, n + 1)
for p, (a, b, n) in sorted(flows.items()):
    print(p, repr(a), repr(b), n)
"""

HOOK = """#!/bin/sh
# the pre-provisioning hook: keeps the decision it was given, reports ready
cat > "%s.$$"
exit 0
"""


def run(tmp, name, cap, reactive_only):
    ns = "st-pp-%s-%d" % (name, os.getpid())
    backend_ns, receivers, sender, traffic, t0_wall = [], [], None, [], None
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
        for args in (["link", "set", "lo", "up"],
                     ["link", "add", "br0", "type", "bridge"], ["link", "set", "br0", "up"],
                     ["addr", "add", "10.77.0.1/24", "dev", "br0"],
                     ["rule", "add", "to", VIP + "/32", "table", "100", "pref", "100"]):
            subprocess.run(["ip", "-n", ns, *args], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                        "net.ipv4.fib_multipath_hash_policy=1"], check=True)
        for i in range(2):
            bns = f"{ns}-b{i}"
            backend_ns.append(bns)
            subprocess.run(["ip", "netns", "add", bns], check=True)
            for where, args in (
                    (ns, ["link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0",
                          "netns", bns]),
                    (ns, ["link", "set", f"p{i}", "master", "br0", "up"]),
                    (bns, ["link", "set", "lo", "up"]), (bns, ["link", "set", "eth0", "up"]),
                    (bns, ["addr", "add", f"10.77.0.1{i}/24", "dev", "eth0"]),
                    (bns, ["addr", "add", VIP + "/32", "dev", "lo"])):
                subprocess.run(["ip", "-n", where, *args], check=True)
            receivers.append(subprocess.Popen(
                ["ip", "netns", "exec", bns, sys.executable, "-c", RECEIVER, VIP, str(VIP_PORT)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        sender = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SENDER, VIP, str(VIP_PORT)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
            t0_wall = time.time()
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
        for p in ([sender] if sender else []) + receivers:
            p.terminate()
        for p in ([sender] if sender else []) + receivers:
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            traffic.append((out, err))
        for n in backend_ns + [ns]:
            subprocess.run(["ip", "netns", "del", n])
    # each receiver printed one line per flow it got: port, first and last
    # wall time, datagrams; the sender its datagrams sent and refused
    got = []
    for out, _ in traffic[1:]:
        got.append({int(p): (float(a), float(b), int(c))
                    for p, a, b, c in (ln.split() for ln in out.split("\n") if ln.strip())})
    sent = traffic[0][0].split() if traffic and traffic[0][0] else ["0", "0"]
    flow_traffic = {"sent": int(sent[0]), "refused": int(sent[1]), "t0_wall": t0_wall,
                    "backends": got, "errors": [e for _, e in traffic if e.strip()]}
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
    return decisions, via_socket, group, hooks, hook_events, flow_traffic


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
            decisions, via_socket, group, hooks, hook_events, flows = run(tmp, name, cap, reactive)
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
                # trace time of a wall-clock instant: the replay started at
                # t0_wall and runs PACE times faster than the trace
                to_epoch = lambda t: (t - flows["t0_wall"]) * PACE * 1e9 // epoch
                b0, b1 = (flows["backends"] + [{}, {}])[:2]
                check(not flows["errors"], f"{name}: traffic helpers said {flows['errors']}")
                check(b0 and flows["sent"] > 0,
                      f"{name}: b0 got no traffic ({flows['sent']} datagrams sent)")
                check(b1, f"{name}: b1 got no traffic")
                first_b1 = min((v[0] for v in b1.values()), default=None)
                # b1's flows leave b0 from then on: the resilient group moved
                # their buckets, no flow is served by both after the move
                moved_back = [p for p, v in b1.items() if p in b0 and b0[p][1] > v[0] + 0.2]
                check(not moved_back, f"{name}: flows {moved_back} went back to b0 after b1 took them")
                b1_epoch = to_epoch(first_b1) if first_b1 is not None else None
                print(f"{name:9s}: traffic: {flows['sent']} datagrams sent on 64 flows "
                      f"({flows['refused']} refused before the route existed); b0 served "
                      f"{len(b0)} flows, b1 {len(b1)}; b1's first datagram at trace epoch "
                      f"{b1_epoch}")
                results[name] = (ep(up), ep(joined[0]) if joined else None, up["triggers"],
                                 b1_epoch)
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
            print(f"b1 takes traffic: combined {crossing - c[3] if c[3] is not None else None} s "
                  f"before the crossing, reactive-only "
                  f"{crossing - r[3] if r[3] is not None else None} s before")
            check(c[3] is not None and c[3] < crossing,
                  f"combined: b1's first traffic at epoch {c[3]}, crossing {crossing}")
            check(c[3] is None or r[3] is None or c[3] < r[3],
                  f"reactive-only's b1 traffic ({r[3]}) is not later than combined's ({c[3]})")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("pre-provisioning: the standby routed ahead of the crossing, reactive-only later")
    return 0


if __name__ == "__main__":
    sys.exit(main())
