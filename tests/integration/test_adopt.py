#!/usr/bin/env python3
"""shadowtap-cp adopts the kernel's nexthop group at a SIGHUP and at a restart
(issue 6; control/policy/policy.h rule 8).

shadowtap-cp runs in a private network namespace with the nexthop actuator.
A pool of b0 (active) and b1 (a standby) with min_backends = 2 makes the
policy scale b1 up at the first judged epoch; shadowtap-dp replays a short
capture (stream "alpha") so that epochs pass.  Then the config is rewritten
with min_backends = 1 and no capacities (nothing would scale b1 up again,
nothing can drain it), and:

  - SIGHUP, then a capture with a new stream "beta": the new policy must not
    take b1 out of the kernel.  Before the fix it believed b1 a standby
    again, and beta's assign decision carried the table {b0};
  - stop and start shadowtap-cp again, then a capture with "gamma": the
    same after a restart (no state carried, adoption only).

Oracles: the kernel's own view of the group (`ip -j nexthop show id 900`,
b0 = 901, b1 = 902), the decisions after each change (`shadowctl decisions
--json`: none without b1 in its table, none draining b1; the new stream's
assign carries b1) and the event log's policy_adopted events (pool ingest,
from the nexthop group, b0 and b1).

Needs root (network namespaces).  Environment: SHADOWTAP_GEN, SHADOWTAP_DP,
SHADOWTAP_CP, SHADOWCTL.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import cp_harness

GEN = os.environ["SHADOWTAP_GEN"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


CONFIG = """
streams = { rules = (
    { name = "alpha"; protocol = "kafka"; match = "alpha"; pool = "ingest"; },
    { name = "beta"; protocol = "kafka"; match = "beta"; pool = "ingest"; },
    { name = "gamma"; protocol = "kafka"; match = "gamma"; pool = "ingest"; }
); };
pools = ( { name = "ingest"; min_backends = %(min)d; max_backends = 2; } );
backends = (
    { name = "b0"; pool = "ingest"; address = "10.78.0.10"; weight = 3; },
    { name = "b1"; pool = "ingest"; address = "10.78.0.11"; weight = 2; standby = true; }
);
policy = { cooldown_s = 1; };
actuators = {
    nexthop = { enabled = true; group_id = 900; resilient = { buckets = 32; idle_timer_s = 0; };
                route = "198.51.100.10/32"; table = 100; };
};
"""


def start_cp(ns, conf, inst, tmp, events):
    return cp_harness.start_cp(ns, conf, inst, tmp, events, wait_s=20)


def replay(inst, cap, conf, sock):
    """Replays the capture into the instance's ring, waits until shadowtap-cp
    has parsed every profile; returns the decisions of its policy."""
    dp, decisions, err = cp_harness.replay(inst, cap, conf, sock, dp_timeout_s=60,
                                           quiet_polls=6, quiet_wait_s=20, poll_s=0.1)
    check(dp.returncode == 0, f"shadowtap-dp exit {dp.returncode}: {dp.stderr[-300:]!r}")
    check(decisions is not None, f"shadowctl decisions: {err!r}")
    return decisions or []


def group(ns):
    out = subprocess.run(["ip", "-n", ns, "-j", "nexthop", "show", "id", "900"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
    return sorted(m["id"] for m in (json.loads(out or b"[{}]")[0].get("group") or []))


def events_of(path, kind):
    with open(path) as f:
        return [e for e in map(json.loads, f) if e.get("event") == kind]


def check_kept(what, decisions, stream, ns, events):
    names = lambda d: [t["name"] for t in d.get("table", [])]
    check(group(ns) == [901, 902], f"{what}: the kernel's group is {group(ns)}, not b0, b1")
    bad = [(d["kind"], d.get("backend"), names(d)) for d in decisions
           if "b1" not in names(d) or (d["kind"] == "scale_down" and d.get("backend") == "b1")]
    check(not bad, f"{what}: decisions that take b1 out: {bad}")
    assign = [d for d in decisions if d["kind"] == "assign" and d.get("stream") == stream]
    check(assign and assign[0]["result"] == "applied" and names(assign[0]) == ["b0", "b1"],
          f"{what}: {stream}'s assign: {assign}")
    adopted = events_of(events, "policy_adopted")
    check(adopted and adopted[-1].get("pool") == "ingest" and
          adopted[-1].get("actuator") == "nexthop" and
          sorted(b["name"] for b in adopted[-1].get("backends", [])) == ["b0", "b1"] and
          adopted[-1].get("activated") == 1 and adopted[-1].get("unknown") == 0,
          f"{what}: policy_adopted events {adopted}")
    print(f"{what}: {len(decisions)} decisions "
          f"({[(d['kind'], names(d)) for d in decisions]}); group {group(ns)}; "
          f"adopted {adopted[-1] if adopted else None}")


def main():
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        return 1
    ns = "st-adopt-%d" % os.getpid()
    inst = "ad%d" % os.getpid()
    procs = []
    with tempfile.TemporaryDirectory(prefix="st-adopt-") as tmp:
        caps = {}
        for i, name in enumerate(("alpha", "beta", "gamma")):
            caps[name] = os.path.join(tmp, name + ".pcap")
            subprocess.run([GEN, "-q", "-o", caps[name], "--seed", str(i + 1),
                            "--duration", "6s", "--start", "2026-01-01T00:00:%02dZ" % (10 * i),
                            "--stream", f"kafka:{name},rate=100,keys=50"], check=True)
        conf = os.path.join(tmp, "adopt.conf")
        with open(conf, "w") as f:
            f.write(CONFIG % {"min": 2})
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            for args in (["link", "set", "lo", "up"],
                         ["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                         ["link", "set", "v1", "up"], ["link", "set", "v0", "up"],
                         ["addr", "add", "10.78.0.1/24", "dev", "v0"]):
                subprocess.run(["ip", "-n", ns, *args], check=True)
            ev1 = os.path.join(tmp, "first.events.jsonl")
            cp, sock = start_cp(ns, conf, inst, tmp, ev1)
            procs.append(cp)
            check(cp.poll() is None, "shadowtap-cp did not start")
            # min_backends 2: b1 scaled up (bounds) and in the kernel
            decisions = replay(inst, caps["alpha"], conf, sock)
            ups = [d for d in decisions if d["kind"] == "scale_up" and d["backend"] == "b1"]
            check(ups and ups[0]["result"] == "applied", f"no applied scale_up of b1: {decisions}")
            check(group(ns) == [901, 902], f"after the scale-up the group is {group(ns)}")
            # a config under which nothing asks for b1 any more
            with open(conf, "w") as f:
                f.write(CONFIG % {"min": 1})
            cp.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline and not (events_of(ev1, "config_reload") and
                                                  events_of(ev1, "policy_carried")):
                time.sleep(0.05)
            check(events_of(ev1, "config_reload") and
                  events_of(ev1, "config_reload")[-1].get("ok"), "SIGHUP: no reload")
            carried = events_of(ev1, "policy_carried")
            check(carried and carried[-1].get("streams") == 1,
                  f"SIGHUP: policy_carried {carried} (alpha)")
            check_kept("SIGHUP", replay(inst, caps["beta"], conf, sock), "beta", ns, ev1)
            # a restart: adoption alone
            cp.terminate()
            cp.wait(timeout=20)
            ev2 = os.path.join(tmp, "second.events.jsonl")
            cp, sock = start_cp(ns, conf, inst, tmp, ev2)
            procs.append(cp)
            check(cp.poll() is None, "shadowtap-cp did not restart")
            check_kept("restart", replay(inst, caps["gamma"], conf, sock), "gamma", ns, ev2)
        finally:
            for cp in procs:
                if cp.poll() is None:
                    cp.terminate()
                    try:
                        cp.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        cp.kill()
            for suffix in ("", ".status"):
                if os.path.exists(f"/dev/shm/shadowtap-{inst}{suffix}"):
                    os.unlink(f"/dev/shm/shadowtap-{inst}{suffix}")
            subprocess.run(["ip", "netns", "del", ns])
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("adopt: b1 stays in the kernel's group and in every decision's table after a "
          "SIGHUP and after a restart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
