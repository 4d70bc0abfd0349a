#!/usr/bin/env python3
"""The XDP Maglev balancer driven by the policy, read back by `shadowctl routes`.

shadowtap-cp runs in a private network namespace with both actuators
enabled: the nexthop group and the XDP balancer on a veth.  A pool of b0, b1
(active) and b2 (a standby) with min_backends = 3 makes the policy scale b2
up at the first judged epoch and ramp its weight (25%, 50%, 100%) over the
next ones; shadowtap-dp replays a short capture so that epochs pass.  Then:

  - `shadowctl routes --json` (the balancer's pinned maps) holds the table of
    the last applied decision (the event log's), backend for backend and
    weight for weight, and its slot counts equal a Maglev table computed here
    from the paper's algorithm (Eisenbud et al., NSDI 2016, section 3.4,
    Pseudocode 1), with the weighted turns maglev.h documents and XXH64
    from libxxhash through ctypes (the oracle is this file's own table, not
    the product's).  Without libxxhash: the counts are proportional to the
    weights within one turn per backend and sum to M;
  - the nexthop group (`ip -j nexthop show`) holds the same members;
  - stopping shadowtap-cp leaves the balancer attached and its table in
    place (actuator.h: destroy leaves the kernel's table); a restarted
    shadowtap-cp adopts it: the same inner table map stays active;
  - a dry run (actuators.dry_run) of a config whose policy wants another
    table logs its decisions as dry_run and leaves the kernel as it was:
    `shadowctl routes --json`, `ip -j nexthop show` and table 100 are the
    same before and after.

Then all or nothing: the standby's gateway is off every connected network,
so the scale-up that adds it passes the balancer and fails in the nexthop
group; the decision is failed, and the balancer holds the previous table
again (b0 and b1, slot for slot as this file's Maglev computes it).

Needs root (network namespaces, BPF, bpffs).  Environment: SHADOWTAP_GEN,
SHADOWTAP_DP, SHADOWTAP_CP, SHADOWCTL.
"""
import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cp_harness

GEN = os.environ["SHADOWTAP_GEN"]
CTL = os.environ["SHADOWCTL"]
SEED_OFFSET = 0x6d61676c65763031   # "maglev01", maglev.h
SEED_SKIP = 0x6d61676c65763032     # "maglev02"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


CONFIG = """
streams = { rules = ( { name = "orders"; protocol = "kafka"; match = "orders"; pool = "web"; } ); };
pools = ( { name = "web"; min_backends = 3; max_backends = 3; } );
backends = (
    { name = "b0"; pool = "web"; address = "10.9.0.10"; mac = "02:00:00:00:00:10"; weight = 4; },
    { name = "b1"; pool = "web"; address = "10.9.0.11"; mac = "02:00:00:00:00:11"; weight = 2; },
    { name = "b2"; pool = "web"; address = "10.9.0.12"; mac = "02:00:00:00:00:12"; weight = 3;
      standby = true; }
);
policy = { cooldown_s = 1; };
actuators = {
    nexthop = { enabled = true; group_id = 800; resilient = { buckets = 32; idle_timer_s = 0; };
                route = "198.51.100.8/32"; table = 100; };
    xdp_lb = { enabled = true; interface = "v0"; vip = "198.51.100.8:9092"; transport = "tcp";
               pool = "web"; };
};
"""


CONFIG_ROLLBACK = CONFIG.replace('address = "10.9.0.12"', 'address = "10.99.0.12"')


def xxh64():
    """XXH64 from libxxhash (the library, not the product), or None."""
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    return lambda data, seed: lib.XXH64(data, len(data), seed)


def maglev_counts(backends, m, h):
    """Slots per backend name: Pseudocode 1 of the paper; a backend of weight
    w takes a turn in round r when floor((r+1) w / wmax) > floor(r w / wmax),
    backends in byte-wise name order (maglev.h)."""
    order = sorted(backends, key=lambda b: b["name"].encode())
    perm = []
    for b in order:
        name = b["name"].encode()
        perm.append([h(name, SEED_OFFSET) % m, h(name, SEED_SKIP) % (m - 1) + 1])
    wmax = max(b["weight"] for b in order)
    table = [None] * m
    counts = {b["name"]: 0 for b in order}
    filled, r = 0, 0
    while filled < m:
        for i, b in enumerate(order):
            if filled == m:
                break
            w = b["weight"]
            if (r + 1) * w // wmax == r * w // wmax:
                continue
            slot, skip = perm[i]
            while table[slot] is not None:
                slot = (slot + skip) % m
            table[slot] = b["name"]
            counts[b["name"]] += 1
            perm[i][0] = (slot + skip) % m
            filled += 1
        r += 1
    return counts


SENDER = r"""
import socket, struct, sys
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("v1", 0))
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
src = bytes.fromhex(sys.argv[2].replace(":", ""))
for i in range(int(sys.argv[3])):
    tcp = struct.pack("!HHIIBBHHH", 20000 + i, 9092, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i, 0, 64, 6, 0,
                     socket.inet_aton("10.9.0.200"), socket.inet_aton("198.51.100.8"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(dst + src + b"\x08\x00" + ip + tcp)
"""
FRAMES = 50


def routes(ns, conf, inst):
    r = subprocess.run(["nsenter", "--net=/run/netns/" + ns, CTL, "routes", "--config", conf,
                        "--instance", inst, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0, f"shadowctl routes: exit {r.returncode}: {r.stderr!r}")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def start_cp(ns, conf, inst, tmp, tag):
    return cp_harness.start_cp(ns, conf, inst, tmp,
                               os.path.join(tmp, tag + ".events.jsonl"), wait_s=30)


def replay(inst, cap, conf, sock):
    """Replays the capture into the instance's ring; returns the decisions."""
    dp, decisions, _ = cp_harness.replay(inst, cap, conf, sock, dp_timeout_s=120,
                                         quiet_polls=8, quiet_wait_s=60, poll_s=0.2)
    check(dp.returncode == 0, f"shadowtap-dp exit {dp.returncode}: {dp.stderr[-300:]!r}")
    decisions = decisions or []
    for d in decisions:
        print(f"decision {d.get('id')}: {d.get('kind')} {d.get('backend', '')} "
              f"-> {d.get('result')} {d.get('result_why', '')!r} table "
              f"{[(t['name'], t['weight']) for t in d.get('table', [])]}")
    return decisions


def check_slots(x, table):
    """The balancer's slots per backend against this file's Maglev table."""
    m = x.get("table_size", 0)
    have = {b["name"]: (b["weight"], b["slots"]) for b in x.get("backends", [])}
    want_w = {t["name"]: t["weight"] for t in table}
    check({k: v[0] for k, v in have.items()} == want_w,
          f"weights: decision {want_w}, balancer {have}")
    check(sum(v[1] for v in have.values()) == m, f"slots do not sum to M {m}: {have}")
    h = xxh64()
    if h:
        want = maglev_counts(table, m, h)
        check({k: v[1] for k, v in have.items()} == want,
              f"slots: Maglev here {want}, balancer {have}")
        print(f"slot counts equal this test's Maglev table: {want}")
    else:
        wsum = sum(want_w.values())
        for name, (w, slots) in have.items():
            check(abs(slots - m * w / wsum) <= len(have) + 1,
                  f"{name}: {slots} slots, weight share {m * w / wsum:.0f}")
        print("no libxxhash: slot counts checked against the weight shares")


def nexthop_ids(ns):
    group = json.loads(subprocess.run(["ip", "-n", ns, "-j", "nexthop", "show", "id", "800"],
                                      stdout=subprocess.PIPE).stdout or b"[{}]")[0]
    return sorted(g["id"] for g in group.get("group", []))


def with_namespace(tag, config, body):
    ns = "st-xdp%s-%d" % (tag, os.getpid())
    inst = "xdp%s%d" % (tag, os.getpid())
    pins = "/sys/fs/bpf/shadowtap/" + inst
    tmp = tempfile.mkdtemp(prefix="st-xdpr-")
    conf = os.path.join(tmp, "xdp.conf")
    with open(conf, "w") as f:
        f.write(config)
    cap = os.path.join(tmp, "orders.pcap")
    subprocess.run([GEN, "-q", "-o", cap, "--seed", "7", "--duration", "8s",
                    "--stream", "kafka:orders,rate=200,keys=100"], check=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs = []
    try:
        for args in (["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                     ["link", "set", "v1", "up"], ["link", "set", "v0", "up"],
                     ["addr", "add", "10.9.0.1/24", "dev", "v0"]):
            subprocess.run(["ip", "-n", ns, *args], check=True)
        body(ns, inst, tmp, conf, cap, procs)
    finally:
        for cp in procs:
            if cp.poll() is None:
                cp.terminate()
                try:
                    cp.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    cp.kill()
        for suffix in ("", ".status"):
            if os.path.exists(f"/dev/shm/shadowtap-{inst}{suffix}"):
                os.unlink(f"/dev/shm/shadowtap-{inst}{suffix}")
        subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(pins, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def rollback_case(ns, inst, tmp, conf, cap, procs):
    cp, sock = start_cp(ns, conf, inst, tmp, "rollback")
    procs.append(cp)
    check(cp.poll() is None, "rollback: shadowtap-cp did not start")
    decisions = replay(inst, cap, conf, sock)
    applied = [d for d in decisions if d.get("result") == "applied" and d.get("table")]
    failed = [d for d in decisions if d.get("result") == "failed"]
    check(applied and len(applied[-1]["table"]) == 2, f"rollback: applied {applied}")
    check(failed and all("nexthop: " in d["result_why"] and
                         "xdp_lb: rolled back to the previous table" in d["result_why"]
                         for d in failed),
          f"rollback: failed decisions {[(d['kind'], d['result_why']) for d in failed]}")
    x = routes(ns, conf, inst).get("xdp_lb", {})
    if applied and check(x.get("installed"), f"rollback: no table installed: {x}"):
        check_slots(x, applied[-1]["table"])
    check(nexthop_ids(ns) == [801, 802], f"rollback: nexthop group {nexthop_ids(ns)}")


def policy_case(ns, inst, tmp, conf, cap, procs):
    cp, sock = start_cp(ns, conf, inst, tmp, "first")
    procs.append(cp)
    check(cp.poll() is None, "shadowtap-cp did not start")
    # it loaded and attached the balancer, and every thread keeps
    # CAP_NET_ADMIN (12) and CAP_BPF (39) only (linux/capability.h)
    want = (1 << 12) | (1 << 39)
    for task in os.listdir(f"/proc/{cp.pid}/task"):
        with open(f"/proc/{cp.pid}/task/{task}/status") as f:
            caps = dict(l.split(":\t") for l in f.read().splitlines() if l.startswith("Cap"))
        check(all(int(caps[k], 16) == want for k in ("CapEff", "CapPrm", "CapBnd")),
              f"thread {task} capabilities {caps}")
    empty = routes(ns, conf, inst).get("xdp_lb", {})
    check(empty.get("pinned") and not empty.get("installed"),
          f"before any decision: {empty}")
    decisions = replay(inst, cap, conf, sock)
    applied = [d for d in decisions if d.get("result") == "applied" and d.get("pool") == "web"
               and d.get("table")]
    check(applied, f"no applied decision: {decisions}")
    check(not [d for d in decisions if d.get("result") == "failed"],
          "a decision failed")
    # frames to the VIP into v0 (from its peer): counted per backend
    mac = {dev: json.loads(subprocess.run(["ip", "-n", ns, "-j", "link", "show", dev],
                                          stdout=subprocess.PIPE).stdout)[0]["address"]
           for dev in ("v0", "v1")}
    subprocess.run(["nsenter", "--net=/run/netns/" + ns, sys.executable, "-c", SENDER,
                    mac["v0"], mac["v1"], str(FRAMES)], check=True)
    time.sleep(0.2)
    got = routes(ns, conf, inst)
    x = got.get("xdp_lb", {})
    check(x.get("counters", {}).get("forwarded") == FRAMES and
          sum(b["packets"] for b in x.get("backends", [])) == FRAMES,
          f"{FRAMES} frames sent to the VIP: counters {x.get('counters')}, per backend "
          f"{[(b['name'], b['packets']) for b in x.get('backends', [])]}")
    if applied and check(x.get("installed"), f"no table installed: {x}"):
        table = applied[-1]["table"]
        check(x["table_size"] == 65537,
              f"table_size {x['table_size']}: auto for 3 backends is 65537")
        check(x["vip"] == "198.51.100.8" and x["vip_port"] == 9092, f"vip {x}")
        check_slots(x, table)
        check(nexthop_ids(ns) == sorted(801 + int(t["name"][1:]) for t in table),
              f"nexthop group {nexthop_ids(ns)} vs table {table}")
    text = subprocess.run(["nsenter", "--net=/run/netns/" + ns, CTL, "routes", "--config",
                           conf, "--instance", inst], stdout=subprocess.PIPE).stdout.decode()
    print(text, end="")
    # the destroy contract: stopping shadowtap-cp leaves the balancer
    cp.terminate()
    cp.wait(timeout=30)
    after = routes(ns, conf, inst).get("xdp_lb", {})
    link = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "v0"],
                          stdout=subprocess.PIPE).stdout.decode()
    check("xdp" in link, f"the program left v0 when shadowtap-cp stopped: {link}")
    check(after.get("table_map_id") == x.get("table_map_id") and
          after.get("backends") is not None and
          [(b["name"], b["slots"]) for b in after["backends"]] ==
          [(b["name"], b["slots"]) for b in x.get("backends", [])],
          f"the table changed when shadowtap-cp stopped: {after}")
    # a restart adopts it: the same table map stays active
    cp, sock = start_cp(ns, conf, inst, tmp, "second")
    procs.append(cp)
    time.sleep(0.5)
    check(cp.poll() is None, "shadowtap-cp did not restart")
    again = routes(ns, conf, inst).get("xdp_lb", {})
    check(again.get("table_map_id") == x.get("table_map_id"),
          f"restart: table map {again.get('table_map_id')}, was {x.get('table_map_id')}")
    # dry run: a config whose policy wants another table (b0's weight 1)
    # changes nothing in the kernel, read before and after by shadowctl
    # routes (the balancer's maps, the group, the route) and by iproute2
    cp.terminate()
    cp.wait(timeout=30)
    dry = os.path.join(tmp, "dry.conf")
    with open(dry, "w") as f:
        f.write(CONFIG.replace("weight = 4;", "weight = 1;")
                .replace("actuators = {", "actuators = {\n    dry_run = true;"))
    cp, sock = start_cp(ns, dry, inst, tmp, "dry")
    procs.append(cp)
    check(cp.poll() is None, "dry run: shadowtap-cp did not start")

    def kernel():
        ip = [subprocess.run(["ip", "-n", ns, "-j", *a], stdout=subprocess.PIPE).stdout
              for a in (["nexthop", "show"], ["route", "show", "table", "100"])]
        r = routes(ns, dry, inst)
        # the balancer's pass counters move with whatever else reaches the
        # veth (IPv6 neighbour discovery counts as pass_not_ipv4): not a table
        r.get("xdp_lb", {}).pop("counters", None)
        return r, ip
    before = kernel()
    decisions = replay(inst, cap, dry, sock)
    after = kernel()
    check(decisions and all(d.get("result") == "dry_run" for d in decisions),
          f"dry run: results {[d.get('result') for d in decisions]}")
    check(any(t["name"] == "b0" and t["weight"] != 4 for d in decisions
              for t in d.get("table", [])),
          "dry run: no decision wanted another table than the installed one")
    check(before == after, f"dry run changed the kernel: before {before}, after {after}")
    print(f"dry run: {len(decisions)} decisions, all dry_run; routes, nexthops and table 100 "
          "identical before and after")


def main():
    with_namespace("r", CONFIG, policy_case)
    with_namespace("b", CONFIG_ROLLBACK, rollback_case)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("xdp routes: the policy's table in the balancer, as Maglev computes it; kept "
          "across a restart; a decision the nexthop group refuses leaves the balancer's "
          "previous table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
