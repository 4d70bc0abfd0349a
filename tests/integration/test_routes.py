#!/usr/bin/env python3
"""`shadowctl routes` reads back what the kernel holds: a nexthop group made
with iproute2 (the outside oracle: `ip nexthop`, `ip route`) in a private
network namespace, under the ids the config's actuators.nexthop names, is
shown member for member, weight for weight, with its buckets and its route.
Needs root (a network namespace).  Environment: SHADOWCTL.
"""
import json
import os
import subprocess
import sys
import tempfile

CTL = os.environ["SHADOWCTL"]
NS = "st-routes-%d" % os.getpid()
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def ip(*args):
    subprocess.run(["ip", "-n", NS, *args], check=True)


CONFIG = """
pools = ( { name = "default"; } );
backends = (
    { name = "b0"; pool = "default"; address = "10.9.0.10"; },
    { name = "b1"; pool = "default"; address = "10.9.0.11"; },
    { name = "b2"; pool = "default"; address = "10.9.0.12"; }
);
actuators = { nexthop = { enabled = true; group_id = 700;
    resilient = { buckets = 64; idle_timer_s = 0; };
    route = "198.51.100.7/32"; table = 100; }; };
"""


def main():
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        ip("link", "set", "v1", "up")
        ip("addr", "add", "10.9.0.1/24", "dev", "v0")
        ip("link", "set", "v0", "up")
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(CONFIG)
            conf = f.name
        run = ["ip", "netns", "exec", NS, CTL, "routes", "--config", conf]
        # nothing yet: the group and the route are absent
        r = subprocess.run(run + ["--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        empty = json.loads(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and empty.get("nexthop", {}).get("exists") is False and
              empty["nexthop"].get("route_exists") is False, f"empty: {r.returncode} {r.stdout!r} {r.stderr!r}")
        # backend i is nexthop 700 + 1 + i (config.h); weights 3, 1, 2
        for i, w in enumerate([3, 1, 2]):
            ip("nexthop", "add", "id", str(701 + i), "via", "10.9.0.1%d" % i, "dev", "v0")
        ip("nexthop", "add", "id", "700", "group", "701,3/702,1/703,2", "type", "resilient",
           "buckets", "64", "idle_timer", "0")
        ip("route", "add", "198.51.100.7/32", "nhid", "700", "table", "100")
        oracle = json.loads(subprocess.run(["ip", "-n", NS, "-j", "nexthop", "show", "id", "700"],
                                           stdout=subprocess.PIPE, check=True).stdout)[0]
        r = subprocess.run(run + ["--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = json.loads(r.stdout).get("nexthop", {}) if r.returncode == 0 else {}
        # iproute2 leaves out a weight of 1, the default
        want = {m["id"]: m.get("weight", 1) for m in oracle["group"]}
        have = {m["id"]: m["weight"] for m in got.get("members", [])}
        check(have == want, f"members: ip says {want}, shadowctl {have}")
        check(got.get("exists") and got.get("resilient") and got.get("buckets") ==
              oracle["resilient_args"]["buckets"], f"group: {got}")
        check(got.get("route_exists") and got.get("route_nh_id") == 700, f"route: {got}")
        gws = sorted(m["gateway"] for m in got.get("members", []))
        check(gws == ["10.9.0.10", "10.9.0.11", "10.9.0.12"], f"gateways {gws}")
        r = subprocess.run(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        text = r.stdout.decode()
        check(r.returncode == 0 and "resilient, 64 buckets" in text and
              "nexthop 701 b0" in text and "(the group)" in text, f"text: {text!r}")
        print(text, end="")
        r = subprocess.run([CTL, "routes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 2, f"no --config: exit {r.returncode}")
        os.unlink(conf)
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    if failures:
        return 1
    print("routes: read back as iproute2 shows them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
