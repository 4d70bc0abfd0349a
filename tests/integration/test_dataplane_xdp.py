#!/usr/bin/env python3
"""The data plane end to end through the native AF_XDP input, live: a
generated capture replayed with tcpreplay into one end of a veth pair,
shadowtap-dp --af-xdp on the other end, a concurrent ring consumer
(`shadowctl profiles --until-exit --json`); checked against the
generator's exact ground truth, tshark and tcpreplay's own counts.

Isolation and cleanup: the test process moves itself into a network
namespace of its own (unshare(2) CLONE_NEWNET through ctypes) before it
creates anything; the veth pair exists only there and disappears with the
namespace when the last process in it exits, however the test ends.  The
processes it starts are killed (by their pid) in a `finally`, the veth is
deleted there too, and so are the rings' shared-memory files.  IPv6 is
off in the namespace, so that no neighbour or router solicitation adds
frames of its own: every frame on the wire is one tcpreplay sent.

1. shadowtap-gen writes ~4500 records in ~5600 frames over six streams:
   Kafka (random TCP segmentation, reordering, duplicates), MQTT 5 QoS 1,
   NATS HPUB over 3 connections, JSONL over UDP 5140 and over TCP 5141 (2
   connections), and JSONL over UDP 6000, a port shadowtap-dp is not
   configured for: the XDP program must pass it to the kernel.
2. Moderate rate (tcpreplay --pps, lossless even under ASan), one worker,
   then two sharing the veth's one rx queue (software dispatch on a live
   input: TCP segments to their flow's core, datagrams kept by the core
   that received them; every profile merged from both), one epoch of
   EPOCH_MS that holds the whole
   replay (the test waits for the next epoch boundary when the replay
   could straddle one; the wall clock decides the epoch, not the
   generator's timestamps):
     - per stream, records summed over the profiles == the truth's
       records, exactly; the unsteered stream has no profile;
     - TCP streams: flows_new summed == the truth's connections;
     - the XDP program's redirected == tshark's count of frames on the
       steered ports == frames the core worked on (bytes likewise), and
       pass_unmatched == the rest; tcpreplay sent every frame, 0 failed;
     - capture drops (missed, no_buffer, invalid) 0; no epoch lost; the
       ring dropped nothing; every profile complete (not partial);
     - distinct /user/id keys within 3 sigma (1.04/sqrt(4096)) of the
       truth's distinct_keys, every stream in one profile whose epoch
       start is aligned and holds the replay's wall-clock span.
3. Excessive rate: --xdp-ring 64 (64 rx slots over 64 UMEM frames),
   tcpreplay --topspeed --loop OVERLOAD_LOOPS with shadowtap-dp and
   tcpreplay pinned to the same CPU (so that the worker only gets that
   CPU's share of time however fast the machine): drops > 0, and the
   exact balances
     sent == the sender veth's tx_dropped + every frame the program saw
     redirected == frames the core worked on + missed + no_buffer + invalid
   and nothing invented: per stream, records <= truth x loops.

4. --xdp-ring usage errors: exit 2 and a message.

Needs root, ip, tcpreplay, tshark, taskset: any missing is a failure,
never a skip.  Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP,
SHADOWCTL.
"""
import ctypes
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_record_path as rp  # noqa: E402  (its check() and failure list)

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CTL = os.environ["SHADOWCTL"]
check = rp.check

SEND_IF, CAPTURE_IF = "stxA", "stxB"
# The ports shadowtap-dp steers with the default config and --proto
# 5141=jsonl (jsonl maps TCP and UDP, the others TCP only).
STEERED_FILTER = ("tcp.port in {9092, 1883, 4222, 5140, 5141} || "
                  "udp.port in {5140, 5141}")
UNSTEERED_STREAM = "jsonl:10.0.0.40:6000"
MODERATE_PPS = 1000        # ~5.6 s for the capture; an ASan build keeps up
OVERLOAD_LOOPS = 5
OVERLOAD_RING = 64
EPOCH_MS = 600000          # 10 min: a boundary rarely falls in the replay
SIGMA = 1.04 / math.sqrt(1 << 12)
CLONE_NEWNET = 0x40000000

children = []              # Popen objects this test started
in_private_netns = False   # the veth to delete is ours
instances = []             # ring instances this test created


# ---- set-up ------------------------------------------------------------------

def require_tools():
    missing = [t for t in ("ip", "tcpreplay", "tshark", "taskset") if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        print(f"FAIL: needs root ({'yes' if os.geteuid() == 0 else 'no'}) and "
              f"{', '.join(missing) or 'every tool'} (missing)")
        sys.exit(1)
    usage = subprocess.run([DP, "--help"], stdout=subprocess.PIPE).stdout.decode()
    if "--af-xdp" not in usage or "--xdp-ring" not in usage:
        print("FAIL: shadowtap-dp was built without AF_XDP (libxdp, libbpf, clang)")
        sys.exit(1)
    for ring, needle in (("48", "power of two"), ("16", "32..65536"), ("x", "--xdp-ring")):
        r = subprocess.run([DP, "--af-xdp", "lo", "--xdp-ring", ring],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 2 and needle in r.stderr.decode(),
              f"--xdp-ring {ring}: exit {r.returncode}, stderr {r.stderr.decode()!r}")


def enter_private_netns():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    global in_private_netns
    in_private_netns = True
    for conf in ("all", "default"):
        with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
            f.write("1")
    rp.run(["ip", "link", "add", SEND_IF, "type", "veth", "peer", "name", CAPTURE_IF])
    rp.run(["ip", "link", "set", SEND_IF, "up"])
    rp.run(["ip", "link", "set", CAPTURE_IF, "up"])


def cleanup():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()
    if in_private_netns:
        subprocess.run(["ip", "link", "del", SEND_IF], stderr=subprocess.DEVNULL)
    for name in instances:
        for suffix in ("", ".status"):
            try:
                os.unlink(f"/dev/shm/shadowtap-{name}{suffix}")
            except FileNotFoundError:
                pass


# ---- oracles -----------------------------------------------------------------

def tshark_frames(pcap, display_filter=None):
    """tshark's count and byte sum of pcap's frames matching the filter."""
    args = ["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "frame.len"]
    if display_filter:
        args[4:4] = ["-Y", display_filter]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode().split()
    return len(out), sum(int(x) for x in out)


def tcpreplay(args, pcap, cpu=None):
    """tcpreplay's successful and failed packet counts."""
    cmd = (["taskset", "-c", str(cpu)] if cpu is not None else []) + \
          ["tcpreplay", "-i", SEND_IF, *args, pcap]
    print("$", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=120).stdout.decode()
    counts = {}
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        if key in ("Successful packets", "Failed packets"):
            counts[key] = int(value)
    if "Successful packets" not in counts:
        raise RuntimeError(f"tcpreplay printed no packet counts:\n{out}")
    return counts["Successful packets"], counts.get("Failed packets", 0)


def tx_dropped(ifname):
    link = json.loads(subprocess.run(["ip", "-s", "-j", "link", "show", ifname], check=True,
                                     stdout=subprocess.PIPE).stdout)[0]
    return link["stats64"]["tx"]["dropped"]


# ---- one shadowtap-dp run ----------------------------------------------------

def status(instance):
    r = subprocess.run([CTL, "status", "--instance", instance, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # a page created but not yet written reads as an empty document
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except json.JSONDecodeError:
        return None


def core_frames(doc):
    return sum(c["frames"] for c in doc["engine"]["cores"])


class Run:
    """shadowtap-dp --af-xdp on CAPTURE_IF with a concurrent consumer."""

    def __init__(self, tag, extra, cpu=None, workers=1):
        self.instance = f"xdp{os.getpid()}{tag}"
        self.workers = workers
        instances.append(self.instance)
        self.consumer = subprocess.Popen(
            [CTL, "profiles", "--instance", self.instance, "--json", "--until-exit",
             "--wait-ms", "60000"], stdout=subprocess.PIPE)
        children.append(self.consumer)
        args = (["taskset", "-c", str(cpu)] if cpu is not None else []) + \
               [DP, "--af-xdp", CAPTURE_IF, "--workers", str(workers), "--instance", self.instance,
                "--key", "/user/id", "--proto", "5141=jsonl", "--epoch-ms", str(EPOCH_MS),
                "--stats", *extra]
        print("$", " ".join(args), flush=True)
        self.dp = subprocess.Popen(args, stdout=subprocess.PIPE)
        children.append(self.dp)
        # The status page appears after the capture is open (the program
        # attached, the socket bound): from then on no frame goes unseen.
        deadline = time.monotonic() + 60
        while status(self.instance) is None:
            if self.dp.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"shadowtap-dp did not start (exit {self.dp.poll()})")
            time.sleep(0.05)

    def drain(self, want=None, timeout_s=30):
        """Waits until the core has worked on `want` frames, or (want None)
        until its count has not moved for 500 ms: the rx ring is empty."""
        deadline = time.monotonic() + timeout_s
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            doc = status(self.instance)
            now = core_frames(doc) if doc else -1
            if want is not None and now >= want:
                return
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif want is None and time.monotonic() - quiet_since >= 0.5:
                return
            time.sleep(0.05)
        print(f"drain: gave up after {timeout_s} s at {last} frames (wanted {want})")

    def stop(self):
        """SIGINT; returns (profiles, consumer counters, dp stats)."""
        self.dp.send_signal(signal.SIGINT)
        out, _ = self.dp.communicate(timeout=60)
        prof, _ = self.consumer.communicate(timeout=60)
        check(self.dp.returncode == 0, f"{self.instance}: shadowtap-dp exit {self.dp.returncode}")
        check(self.consumer.returncode == 0,
              f"{self.instance}: consumer exit {self.consumer.returncode}")
        lines = out.decode().splitlines()
        stats = json.loads(lines[-1]) if lines else {}
        objs = [json.loads(line) for line in prof.decode().splitlines()]
        profiles = [o for o in objs if "stream" in o]
        counters = objs[-1].get("counters", {}) if objs else {}
        return profiles, counters, stats


def capture_drops(stats):
    drops = {"missed": 0, "no_buffer": 0, "invalid": 0}
    for c in stats.get("cores", []):
        for k in drops:
            drops[k] += c["capture_drops"][k]
    return drops


def check_common(what, profiles, counters, stats, workers=1):
    """Ring, merger and core checks that hold at any rate."""
    ring = counters.get("ring", {})
    check(ring.get("dropped_full", 1) == 0 and ring.get("dropped_oversize", 1) == 0,
          f"{what}: ring dropped records: {ring}")
    # after each epoch's profiles, one Backend Metrics record
    check(counters.get("profiles") == len(profiles) and
          len(profiles) + counters.get("backends_records", -1) == ring.get("committed"),
          f"{what}: profiles read {counters.get('profiles')}, printed {len(profiles)}, "
          f"backends records {counters.get('backends_records')}, "
          f"committed {ring.get('committed')}")
    bad = [p["stream"] for p in profiles if p["partial"] or p["cores_merged"] != workers]
    check(not bad, f"{what}: profiles not merged from every core: {bad}")
    check(stats.get("capture", {}).get("backend") == "af_xdp",
          f"{what}: the input is not af_xdp: {stats.get('capture')}")
    cores = stats.get("cores", [])
    check(len(cores) == workers, f"{what}: {len(cores)} cores")
    lost = sum(c["epochs_lost"] + c["inbox_full_drops"] for c in cores)
    check(lost == 0, f"{what}: {lost} epochs or frames lost past the capture")
    # the capture's XDP_STATISTICS, as the engine reports them, are the
    # socket's own (xdp.h's mapping)
    q = stats.get("capture", {}).get("queues", [{}])[0]
    drops = capture_drops(stats)
    check(drops["invalid"] == q.get("rx_invalid_descs") and
          drops["no_buffer"] == q.get("rx_fill_ring_empty_descs"),
          f"{what}: core capture drops {drops} vs socket statistics {q}")


# ---- 2. moderate rate --------------------------------------------------------

def wait_for_room(needed_s):
    """Sleeps past the next epoch boundary when fewer than needed_s seconds
    are left in the current epoch."""
    epoch_ns = EPOCH_MS * 10**6
    left_s = (epoch_ns - time.time_ns() % epoch_ns) / 1e9
    if left_s < needed_s:
        print(f"{left_s:.1f} s left in the epoch, {needed_s:.0f} s needed: waiting")
        time.sleep(left_s + 0.2)


def moderate(truth, cap, workers):
    all_frames, _ = tshark_frames(cap)
    steered, steered_bytes = tshark_frames(cap, STEERED_FILTER)
    check(all_frames == truth["frames"], f"tshark: {all_frames} frames, truth {truth['frames']}")
    check(0 < steered < all_frames, f"tshark: {steered} of {all_frames} frames steered")

    run = Run(f"m{workers}", ["--queues", "1"], workers=workers)
    wait_for_room(all_frames / MODERATE_PPS + 10)
    t0 = time.time_ns()
    sent, failed = tcpreplay(["--pps", str(MODERATE_PPS)], cap)
    t1 = time.time_ns()
    run.drain(want=steered)
    profiles, counters, stats = run.stop()
    what = f"moderate, {workers} worker(s)"
    check_common(what, profiles, counters, stats, workers)
    check(sent == all_frames and failed == 0,
          f"{what}: tcpreplay sent {sent}, failed {failed}, capture has {all_frames}")

    prog = stats.get("capture", {}).get("program", {})
    cores = stats.get("cores", [{}])
    worked = sum(c.get("frames", 0) for c in cores)
    worked_bytes = sum(c.get("bytes", 0) for c in cores)
    check(prog.get("redirected") == steered == worked,
          f"{what}: redirected {prog.get('redirected')}, tshark steered {steered}, "
          f"core worked on {worked}")
    check(worked_bytes == steered_bytes,
          f"{what}: core bytes {worked_bytes}, tshark steered bytes {steered_bytes}")
    check(prog.get("pass_unmatched") == all_frames - steered and
          sum(prog.values()) == sent,
          f"{what}: program {prog} vs {all_frames - steered} unsteered, {sent} sent")
    drops = capture_drops(stats)
    check(sum(drops.values()) == 0, f"{what}: capture drops {drops}")
    q = stats.get("capture", {}).get("queues", [{}])[0]
    check(q.get("rx_dropped") == 0 and q.get("rx_ring_full") == 0,
          f"{what}: socket statistics {q}")

    by_stream = {}
    for p in profiles:
        by_stream.setdefault(p["stream"], []).append(p)
    epoch_ns = EPOCH_MS * 10**6
    straddles = t0 // epoch_ns != t1 // epoch_ns
    if straddles:
        print(f"{what}: the replay straddles an epoch boundary: counts only")
    for s in truth["streams"]:
        name = s["name"]
        ours = [p for p in by_stream.get(name, []) if p["records"]]
        records = sum(p["records"] for p in ours)
        if name == UNSTEERED_STREAM:
            check(not by_stream.get(name), f"{what}: {name} is not steered, yet profiled")
            print(f"{name}: not steered, no profile ({s['records']} records passed)")
            continue
        check(records == s["records"], f"{what}: {name}: records {records} != {s['records']}")
        if s["transport"] == "tcp":
            new = sum(p["flows_new"] for p in ours)
            check(new == s["connections"],
                  f"{what}: {name}: flows_new {new} != connections {s['connections']}")
        line = f"{name}: {records} records (truth {s['records']})"
        if s["transport"] == "tcp":
            line += f", {sum(p['flows_new'] for p in ours)} connections ({s['connections']})"
        if not straddles:
            check(len(ours) == 1, f"{what}: {name}: {len(ours)} profiles in one epoch")
            if len(ours) == 1:
                p = ours[0]
                start = p["epoch_start_ns"]
                check(p["epoch_ns"] == epoch_ns and start % epoch_ns == 0 and
                      start <= t0 and t1 < start + epoch_ns,
                      f"{what}: {name}: epoch [{start}, +{p['epoch_ns']}) vs replay "
                      f"[{t0}, {t1}]")
                est, true = p["cardinality"]["/user/id"], s["distinct_keys"]
                dev = abs(est - true) / true / SIGMA
                check(dev <= 3, f"{what}: {name}: distinct {est} vs {true} ({dev:.2f} sigma)")
                line += f"; distinct /user/id {est:.0f} vs {true} ({dev:.2f} sigma)"
        print(line)
    extra = set(by_stream) - {s["name"] for s in truth["streams"]}
    check(not extra, f"{what}: streams not in the truth: {extra}")
    print(f"{what}: tcpreplay --pps {MODERATE_PPS} sent {sent} frames in "
          f"{(t1 - t0) / 1e9:.1f} s; tshark: {steered} on steered ports; program "
          f"redirected {prog.get('redirected')}, passed {prog.get('pass_unmatched')} "
          f"unmatched; core worked on {worked}; drops {drops}; "
          f"{stats['capture'].get('attach_mode')}/{stats['capture'].get('copy_mode')}")
    if workers > 1:
        print(f"{what}: frames per core {[c.get('frames') for c in cores]}, handed to "
              f"another core {[c.get('dispatched') for c in cores]}, holds of the queue "
              f"{[c.get('dispatch_holds') for c in cores]}")


# ---- 3. excessive rate -------------------------------------------------------

def overload(truth, cap):
    cpu = min(os.sched_getaffinity(0))
    run = Run("o", ["--xdp-ring", str(OVERLOAD_RING)], cpu=cpu)
    before = tx_dropped(SEND_IF)
    sent, failed = tcpreplay(["--topspeed", "--loop", str(OVERLOAD_LOOPS)], cap, cpu=cpu)
    link_dropped = tx_dropped(SEND_IF) - before
    run.drain()
    profiles, counters, stats = run.stop()
    what = "overload"
    check_common(what, profiles, counters, stats)

    prog = stats.get("capture", {}).get("program", {})
    redirected = prog.get("redirected", -1)
    worked = sum(c.get("frames", 0) for c in stats.get("cores", []))
    drops = capture_drops(stats)
    dropped = sum(drops.values())
    check(sent + failed == truth["frames"] * OVERLOAD_LOOPS,
          f"{what}: tcpreplay sent {sent} + failed {failed} != "
          f"{truth['frames']} x {OVERLOAD_LOOPS}")
    check(sent == link_dropped + sum(prog.values()),
          f"{what}: sent {sent} != {SEND_IF} tx_dropped {link_dropped} + program "
          f"saw {sum(prog.values())}")
    check(redirected == worked + dropped,
          f"{what}: redirected {redirected} != worked on {worked} + drops {drops}")
    check(dropped > 0, f"{what}: no drops at --topspeed with {OVERLOAD_RING}-frame rings")
    records = {}
    for p in profiles:
        records[p["stream"]] = records.get(p["stream"], 0) + p["records"]
    truth_records = {s["name"]: s["records"] for s in truth["streams"]}
    for name, n in sorted(records.items()):
        bound = truth_records.get(name, 0) * OVERLOAD_LOOPS
        check(n <= bound, f"{what}: {name}: {n} records > truth x loops {bound}")
        print(f"  {name}: {n} records <= {bound}")
    check(UNSTEERED_STREAM not in records, f"{what}: {UNSTEERED_STREAM} profiled")
    print(f"{what}: tcpreplay --topspeed --loop {OVERLOAD_LOOPS} on CPU {cpu} sent {sent} "
          f"(failed {failed}), {SEND_IF} tx_dropped {link_dropped}; program saw "
          f"{sum(prog.values())}, redirected {redirected} = core worked on {worked} + "
          f"missed {drops['missed']} + no_buffer {drops['no_buffer']} + invalid "
          f"{drops['invalid']} (rings of {OVERLOAD_RING})")


def main():
    require_tools()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            enter_private_netns()
            cap = os.path.join(tmp, "xdp.pcap")
            rp.run([GEN, "-q", "-o", cap, "--seed", "5", "--duration", "2s",
                    "--stream", "kafka:orders,rate=600,keys=3000,zipf=1.1,partitions=4,batch=5,"
                                "split=random,reorder=0.01,dup=0.01",
                    "--stream", "mqtt:sensors/temp,version=5,qos=1,rate=400,keys=1000,zipf=1.3",
                    "--stream", "nats:orders.eu,headers=1,rate=400,keys=2000,conns=3",
                    "--stream", "jsonl:udp:5140,rate=400,keys=1000,zipf=1.5",
                    "--stream", "jsonl:tcp:5141,rate=200,keys=500,conns=2",
                    "--stream", "jsonl:udp:6000,rate=200,keys=100"])
            truth = json.load(open(cap + ".truth.json"))
            total = sum(s["records"] for s in truth["streams"])
            print(f"capture: {total} records, {truth['frames']} frames")
            moderate(truth, cap, 1)
            # the veth's one queue shared by two cores: TCP segments go to
            # their flow's core, datagrams stay with their receiver
            moderate(truth, cap, 2)
            overload(truth, cap)
        finally:
            cleanup()
    if rp.failures:
        print(f"{len(rp.failures)} failures")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
