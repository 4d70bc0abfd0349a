#!/usr/bin/env python3
"""The data-plane benchmark (tools/bench/run-dp-bench builds, then runs this).

Figures, each printed as a "figure:" line after the exact command that
produced it:

 1. Frames/s of shadowtap-dp with one worker on minimal JSON-lines datagrams
    ({"id":N}, one per UDP datagram), read by DPDK's net_pcap with
    infinite_rx=1, against dpdk-testpmd --forward-mode=rxonly on the same
    file with the same EAL memory options, the polling thread of both on
    CPU 1; runs alternate.
 2. Record value bytes per second (Gbit/s) of one worker on Kafka Produce
    requests of 10 records of 100-byte JSON values (~1 KiB of values per
    request, one TCP segment each), the same way, with testpmd as the peer
    for the frame rate; and the same per CPU-second of the record path
    alone (offline, in memory).
 3. Two workers against one on the same inputs: one queue with software
    dispatch (the cores take turns receiving), and two net_pcap ports (two
    queues) whose files hold disjoint whole flows.
 4. TSC cycles per frame and per record by stage, from the record path
    built with -DST_STAGE_CYCLES (dataplane/worker.h), against the same
    path without it, and that path with every JSON value fully scanned
    (--no-shapes: no shape templates, dataplane/json/json_tmpl.h),
    alternating.

Rates, both programs alike: a counter snapshot taken right after the
program published it, and another one `--seconds` later; rate = counter
delta / the driver's monotonic time between the two snapshots.  testpmd
prints its port counters every second (--stats-period 1; the line is
timestamped when it arrives on the pipe); shadowtap-dp rewrites its status
page 4 times a second and `shadowctl status --json` is polled every 20 ms
until the counters change.  The process's CPU time (/proc/PID/stat) is
read at the same two moments, so that each rate is also given per
CPU-second: the machine is shared, and a process that got less CPU shows
less.
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
EAL_MEM = ["--no-huge", "-m", "512", "--no-pci", "--no-telemetry"]
KEYS = ["--key", "/id", "--key", "/user/id"]
INSTANCE = "dpbench"


def say(*a):
    print(*a, flush=True)


def cmdline(argv):
    return " ".join(shlex.quote(a) for a in argv)


def cpu_seconds(pid):
    """utime + stime of the process, seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def thread_cpu(pid):
    """{tid: (name, CPU seconds)} of the process's threads."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
            name = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
        except (OSError, ValueError, IndexError):
            pass
    return out


def thread_busy(pid, t1, t2, dt):
    """CPUs busy per role over the window: the main lcore (worker 0), the
    other workers (rte-worker-N), DPDK's own threads, and the rest (the
    status page thread and the merger, which the engine does not name)."""
    roles = {}
    for tid, (name, c2) in t2.items():
        c1 = t1.get(tid, (name, c2))[1]
        if tid == pid:
            role = "worker 0 (main lcore)"
        elif name.startswith("rte-worker-") or name.startswith("lcore-worker-"):
            role = "worker " + name.rsplit("-", 1)[1]
        elif name.startswith(("eal-", "rte_", "rte-", "telemetry")):
            role = "dpdk threads"
        else:
            role = "status + merger"
        roles[role] = roles.get(role, 0) + (c2 - c1) / dt
    return roles


def stop(proc, sig=signal.SIGINT, wait_s=20):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"pid {proc.pid} did not stop on {sig.name}")


class Prefix:
    """A fresh EAL --file-prefix; its runtime directory and (with --hugepages)
    the hugepage files EAL names after it are removed after: a program
    stopped by a signal leaves them, and they hold the pages."""
    n = 0

    def __init__(self):
        Prefix.n += 1
        self.name = f"dpbench-{os.getpid()}-{Prefix.n}"

    def cleanup(self):
        shutil.rmtree(f"/var/run/dpdk/{self.name}", ignore_errors=True)
        for mnt in glob.glob("/dev/hugepages*"):
            for f in glob.glob(f"{mnt}/{self.name}map_*"):
                try:
                    os.unlink(f)
                except OSError:
                    pass


def vdevs(files):
    out = []
    for i, f in enumerate(files):
        out += ["--vdev", f"net_pcap{i},rx_pcap={f},infinite_rx=1"]
    return out


def pcap_frames(path):
    """Frames of a classic pcap file we wrote (16-byte record headers), and
    their TCP/UDP payload bytes (Ethernet, IPv4)."""
    n = payload = 0
    with open(path, "rb") as f:
        f.seek(24)
        while True:
            h = f.read(16)
            if len(h) < 16:
                return n, payload
            b = f.read(int.from_bytes(h[8:12], "little"))
            n += 1
            if len(b) < 34 or b[12:14] != b"\x08\x00":
                continue
            ihl = (b[14] & 15) * 4
            ip_len = int.from_bytes(b[16:18], "big")
            if b[23] == 6 and len(b) >= 14 + ihl + 13:
                payload += ip_len - ihl - (b[14 + ihl + 12] >> 4) * 4
            elif b[23] == 17:
                payload += ip_len - ihl - 8


# ---- testpmd -----------------------------------------------------------------

def run_testpmd(o, files, label):
    frames = sum(pcap_frames(f)[0] for f in files)
    pre = Prefix()
    argv = ["stdbuf", "-oL", o.testpmd, *EAL_MEM, "--file-prefix", pre.name,
            "--lcores", "0@0,1@1", *vdevs(files), "--", "--forward-mode=rxonly",
            "--nb-cores=1", "--stats-period", "1",
            f"--total-num-mbufs={frames + 32768}", "--auto-start"]
    say(f"command: {cmdline(argv)}")
    samples = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    pat = re.compile(r"RX-packets:\s+(\d+)\s+RX-missed:\s+\d+\s+RX-bytes:\s+(\d+)")
    log = []

    def reader():
        for line in proc.stdout:
            log.append(line)
            m = pat.search(line)
            if m:
                samples.append((time.monotonic(), int(m.group(1)), int(m.group(2)),
                                cpu_seconds(proc.pid)))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while not any(s[1] > 0 for s in samples):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("testpmd did not start:\n" + "".join(log[-20:]))
            time.sleep(0.05)
        # the first sample after the warm-up, then the first one at least
        # `seconds` later (testpmd's period stretches when it is starved)
        t_first = next(s[0] for s in samples if s[1] > 0)

        def first_after(t):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("testpmd ended:\n" + "".join(log[-20:]))
                for s in list(samples):
                    if s[0] >= t:
                        return s
                time.sleep(0.05)

        a = first_after(t_first + o.warmup)
        b = first_after(a[0] + o.seconds - 0.1)
    finally:
        stop(proc)
        t.join(5)
        pre.cleanup()
    dt = b[0] - a[0]
    r = {"fps": (b[1] - a[1]) / dt, "bps": (b[2] - a[2]) * 8 / dt, "dt": dt,
         "cpu": (b[3] - a[3]) / dt if a[3] is not None and b[3] is not None else 0}
    say(f"figure: {label}: testpmd rxonly {r['fps'] / 1e6:.2f} Mframes/s, "
        f"{r['bps'] / 1e9:.2f} Gbit/s of frames over {dt:.1f} s, "
        f"{r['cpu']:.2f} CPUs busy")
    return r


# ---- shadowtap-dp --------------------------------------------------------------

def dp_status(o):
    p = subprocess.run([o.ctl, "status", "--instance", INSTANCE, "--json"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None
    doc = json.loads(p.stdout)
    cores = doc["engine"]["cores"]
    return {k: sum(c[k] for c in cores) for k in
            ("frames", "records", "record_bytes", "dispatched", "worker_drops",
             "polled", "dispatch_holds",
             "decode_drops", "parse_errors", "reassembly_gaps", "inbox_full_drops")} | {
        "per_core": [c["frames"] for c in cores],
        "per_core_idle": [c.get("idle_ns", 0) for c in cores],
        "dispatch_moves": doc["engine"].get("dispatch_moves", 0),
        "buckets": [c.get("dispatch_buckets", 0) for c in cores]}


def dp_fresh(o, proc):
    """A status snapshot taken within ~20 ms of the page's rewrite."""
    first = dp_status(o)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("shadowtap-dp ended")
        time.sleep(0.02)
        s = dp_status(o)
        if s and (not first or s["frames"] != first["frames"]):
            return time.monotonic(), s, cpu_seconds(proc.pid)
    raise RuntimeError("shadowtap-dp's status page did not change for 5 s")


def pingpong_ns(o):
    """The round trip of a cache line between CPUs 0 and 1 now, in ns: what
    each line of a frame handed from one worker to the other pays.  The
    host may place the VM's two vCPUs on cores that share a cache or not,
    and move them: the two-worker figures follow it."""
    p = subprocess.run([o.bench, "pingpong", "0", "1"], capture_output=True, text=True,
                       check=True)
    return float(p.stdout)


def run_dp(o, files, workers, label):
    pp = pingpong_ns(o) if workers > 1 else None
    pre = Prefix()
    lcores = "0@1" if workers == 1 else "0@0,1@1"
    extra = ["--dispatch-move-tcp"] if o.dispatch_move_tcp and workers > 1 else []
    argv = [o.dp, "--dpdk", "--workers", str(workers), "--instance", INSTANCE, *KEYS, *extra,
            "--", *EAL_MEM, "--file-prefix", pre.name, "--lcores", lcores, *vdevs(files)]
    say(f"command: {cmdline(argv)}")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError("shadowtap-dp ended: " + proc.stderr.read())
            s = dp_status(o)
            if s and s["frames"] > 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("shadowtap-dp did not start in 30 s")
            time.sleep(0.1)
        time.sleep(o.warmup)
        t1, s1, c1 = dp_fresh(o, proc)
        th1 = thread_cpu(proc.pid)
        time.sleep(o.seconds)
        t2, s2, c2 = dp_fresh(o, proc)
        th2 = thread_cpu(proc.pid)
    finally:
        rc = stop(proc)
        err = proc.stderr.read()
        pre.cleanup()
    if rc != 0:
        raise RuntimeError(f"shadowtap-dp exit status {rc}: {err}")
    dt = t2 - t1
    cpu = (c2 - c1) / dt if c1 is not None and c2 is not None else 0
    d = {k: s2[k] - s1[k] for k in s1 if k not in ("per_core", "per_core_idle", "buckets")}
    per_core = [b - a for a, b in zip(s1["per_core"], s2["per_core"])]
    idle = [(b - a) / 1e9 / dt for a, b in zip(s1["per_core_idle"], s2["per_core_idle"])]
    r = {"fps": d["frames"] / dt, "rps": d["records"] / dt,
         "vbps": d["record_bytes"] * 8 / dt, "cpu": cpu, "dt": dt,
         "per_core": [f / dt for f in per_core], "d": d, "idle": idle,
         "threads": thread_busy(proc.pid, th1, th2, dt), "pingpong": pp}
    drops = d["worker_drops"] + d["decode_drops"] + d["inbox_full_drops"]
    say(f"figure: {label}: shadowtap-dp {workers} worker(s) {r['fps'] / 1e6:.3f} "
        f"Mframes/s ({', '.join(f'{f / 1e6:.3f}' for f in r['per_core'])} per core), "
        f"{r['rps'] / 1e6:.3f} Mrecords/s, {r['vbps'] / 1e9:.3f} Gbit/s of values over "
        f"{dt:.1f} s; {cpu:.2f} CPUs busy; drops {drops}, parse errors "
        f"{d['parse_errors']}, gaps {d['reassembly_gaps']}")
    if pp is not None:
        say(f"figure:   cache-line round trip between CPUs 0 and 1 before the run: {pp:.0f} ns")
    if workers > 1 and len(files) == 1:
        say(f"figure:   software dispatch: {d['dispatch_moves']} bucket moves in the window "
            f"({s2['dispatch_moves']} since the start); buckets per core at the end "
            f"{s2['buckets']}; nothing to do "
            f"{', '.join(f'{x:.1%}' for x in idle)} of the window (core 0..); "
            f"{d['polled'] / max(d['dispatch_holds'], 1):.1f} frames received a hold "
            f"of the queue")
    say("figure:   CPUs busy by thread: " + ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(r["threads"].items())))
    return r


# ---- offline stage split -------------------------------------------------------

def run_offline(o, exe, files, passes, extra=()):
    argv = [exe, "offline", "--passes", str(passes), *KEYS, *extra, *files]
    say(f"command: taskset -c 1 {cmdline(argv)}")
    p = subprocess.run(["taskset", "-c", "1", *argv], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{exe} failed: {p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("json: "):
            j = json.loads(line[6:])
            out[j["file"]] = j
        elif line.startswith("figure:") and not line.startswith("figure: TSC"):
            say(line)
    return out


def median_run(runs, key):
    s = sorted(runs, key=key)
    return s[(len(s) - 1) // 2]


def spread(v):
    return f"{min(v):.0f}..{max(v):.0f}" if len(v) > 1 else "one run"


# ---- main ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dispatch-move-tcp", action="store_true",
                    help="software dispatch may move TCP flows between cores "
                         "(shadowtap-dp --dispatch-move-tcp)")
    ap.add_argument("--hugepages", action="store_true",
                    help="both programs on hugepages instead of --no-huge (needs free "
                         "2 MiB hugepages and a hugetlbfs mount: echo 512 > "
                         "/proc/sys/vm/nr_hugepages)")
    o = ap.parse_args()
    if o.hugepages:
        with open("/proc/meminfo") as f:
            free = [int(l.split()[1]) for l in f if l.startswith("HugePages_Free:")]
        if not free or free[0] < 256:
            sys.exit("--hugepages: fewer than 256 free hugepages "
                     "(echo 512 > /proc/sys/vm/nr_hugepages)")
        EAL_MEM.remove("--no-huge")
    b = o.build
    o.dp = f"{b}/dataplane/dp/shadowtap-dp"
    o.ctl = f"{b}/tools/shadowctl"
    bench = o.bench = f"{b}/tools/bench/shadowtap-dp-bench"
    stages = f"{b}/tools/bench/shadowtap-dp-bench-stages"
    o.testpmd = shutil.which("dpdk-testpmd")
    if not o.testpmd:
        sys.exit("dpdk-testpmd not found (package dpdk-dev; tools/setup installs it)")
    o.runs, o.seconds, o.warmup, passes = (1, 2, 0.5, 5) if o.quick else (3, 6, 1, 15)
    data = f"{b}/dp-bench"
    os.makedirs(data, exist_ok=True)

    say(f"cpu: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start")
    # ---- inputs
    J, K = f"{data}/jsonl.pcap", f"{data}/kafka.pcap"
    J2 = [f"{data}/jsonl.part{i}.pcap" for i in range(2)]
    K2 = [f"{data}/kafka.part{i}.pcap" for i in range(2)]
    gens = [[bench, "gen-jsonl", J, "--datagrams", "65536", "--flows", "64"],
            [bench, "gen-kafka", K, "--requests", "16384", "--conns", "16",
             "--batch", "10", "--value-bytes", "100"]]
    for i in range(2):
        gens.append([bench, "gen-jsonl", J2[i], "--datagrams", "32768", "--flows", "64",
                     "--part", f"{i}/2"])
        gens.append([bench, "gen-kafka", K2[i], "--requests", "8192", "--conns", "16",
                     "--batch", "10", "--value-bytes", "100", "--part", f"{i}/2"])
    for g in gens:
        say(f"command: {cmdline(g)}")
        subprocess.run(g, check=True)

    # ---- 4: stages, offline, alternating plain, instrumented and without templates
    say("== 4. cycles by stage: the record path in memory, on CPU 1, "
        "uninstrumented, instrumented and without shape templates alternating ==")
    plain, inst, full = [], [], []
    for _ in range(1 if o.quick else 7):
        plain.append(run_offline(o, bench, [J, K], passes))
        inst.append(run_offline(o, stages, [J, K], passes))
        full.append(run_offline(o, bench, [J, K], passes, ["--no-shapes"]))

    # ---- 1, 2, 3: live, alternating
    say("== 1, 2, 3. live: net_pcap infinite_rx, testpmd rxonly vs shadowtap-dp ==")
    live = {n: {"testpmd": [], "dp1": [], "dp2": [], "dp1q2": [], "dp2q2": []}
            for n in ("jsonl", "kafka")}
    try:
        for r in range(o.runs):
            for name, f1, f2 in (("jsonl", J, J2), ("kafka", K, K2)):
                L = live[name]
                order = [("testpmd", lambda: run_testpmd(o, [f1], name)),
                         ("dp1", lambda: run_dp(o, [f1], 1, name))]
                if r % 2:
                    order.reverse()
                for k, fn in order:
                    L[k].append(fn())
                L["dp2"].append(run_dp(o, [f1], 2, name + ", one queue"))
                q = [("dp1q2", lambda: run_dp(o, f2, 1, name + ", two queues")),
                     ("dp2q2", lambda: run_dp(o, f2, 2, name + ", two queues"))]
                if r % 2:
                    q.reverse()
                for k, fn in q:
                    L[k].append(fn())
    finally:
        for shm in (f"/dev/shm/shadowtap-{INSTANCE}",):
            if os.path.exists(shm):
                os.unlink(shm)

    # ---- summary
    med = statistics.median
    say("")
    say(f"== summary (medians of {o.runs} live run(s) and {len(inst)} offline run(s) "
        f"each; live windows {o.seconds} s; "
        f"load average {os.getloadavg()[0]:.2f} at the end) ==")
    for name in ("jsonl", "kafka"):
        L = live[name]
        tp = med(x["fps"] for x in L["testpmd"])
        tpc = med(x["fps"] / max(x["cpu"], 1e-9) for x in L["testpmd"])
        d1 = med(x["fps"] for x in L["dp1"])
        d1c = med(x["fps"] / max(x["cpu"], 1e-9) for x in L["dp1"])
        ratios = [d["fps"] / t["fps"] for d, t in zip(L["dp1"], L["testpmd"])]
        say(f"figure: {name}: 1 worker {d1 / 1e6:.3f} Mframes/s vs testpmd rxonly "
            f"{tp / 1e6:.2f} Mframes/s: ratio {med(ratios):.3f} "
            f"(runs {', '.join(f'{x:.3f}' for x in ratios)}); per CPU-second "
            f"{d1c / 1e6:.3f} vs {tpc / 1e6:.2f} Mframes: {d1c / tpc:.3f}")
        if name == "kafka":
            v = med(x["vbps"] for x in L["dp1"])
            vc = med(x["vbps"] / max(x["cpu"], 1e-9) for x in L["dp1"])
            n, payload = pcap_frames(K)
            pl = payload / n
            say(f"figure: kafka: 1 worker {v / 1e9:.3f} Gbit/s of record values per "
                f"wall second, {vc / 1e9:.3f} per CPU-second of the process; "
                f"{d1 * pl * 8 / 1e9:.3f} Gbit/s of TCP payload (the Produce "
                f"requests whole: {pl:.0f} bytes per frame) (target 10)")
        for one, two, how in (("dp1", "dp2", "one queue, software dispatch"),
                              ("dp1q2", "dp2q2", "two net_pcap queues")):
            s = [b["fps"] / a["fps"] for a, b in zip(L[one], L[two])]
            sc = [(b["fps"] / max(b["cpu"], 1e-9)) / (a["fps"] / max(a["cpu"], 1e-9))
                  for a, b in zip(L[one], L[two])]
            say(f"figure: {name}: 2 workers vs 1 ({how}): {med(s):.2f}x "
                f"({med(x['fps'] for x in L[one]) / 1e6:.3f} -> "
                f"{med(x['fps'] for x in L[two]) / 1e6:.3f} Mframes/s; CPUs busy "
                f"{med(x['cpu'] for x in L[one]):.2f} -> "
                f"{med(x['cpu'] for x in L[two]):.2f}; per CPU-second {med(sc):.2f}x)"
                + (f"; each core had nothing to do "
                   f"{med(sum(x['idle']) / len(x['idle']) for x in L[two]):.1%} of the "
                   f"time (median of the cores' mean)" if two == "dp2" else "")
                + f"; cache-line round trip CPU 0-1 "
                f"{', '.join('%.0f' % x['pingpong'] for x in L[two])} ns")

    hz = med(r[J]["tsc_hz"] for r in inst)
    mark = med(r[J]["mark_cycles"] for r in inst)
    say(f"figure: TSC {hz / 1e9:.3f} GHz (measured against CLOCK_MONOTONIC_RAW); one "
        f"accounting mark (rdtsc + add) {mark:.1f} TSC cycles")
    for f, name in ((J, "jsonl"), (K, "kafka")):
        per = lambda j: j["cpu_s"] * j["tsc_hz"] / j["frames"]
        m = median_run([r[f] for r in inst], per)
        scale = m["cpu_s"] * m["tsc_hz"] / m["tsc_cycles"]
        fr, rec = m["frames"], max(m["records"], 1)
        fastest = lambda j: j["min_cpu_s"] * j["tsc_hz"] / j["frames"]
        plain_c = [per(r[f]) for r in plain]
        inst_c = [per(r[f]) for r in inst]
        plain_f = [fastest(r[f]) for r in plain]
        inst_f = [fastest(r[f]) for r in inst]
        say(f"figure: {name}: cycles by stage (CPU cycles, the median instrumented run; "
            f"{rec / fr:.1f} records/frame)")
        say(f"figure:   {'stage':<12}{'/frame':>10}{'/record':>10}{'share':>8}")
        total = 0.0
        for st, c in m["stages"].items():
            cyc = c * scale
            total += cyc
            say(f"figure:   {st:<12}{cyc / fr:>10.0f}{cyc / rec:>10.0f}"
                f"{100 * c / m['staged_tsc_cycles']:>7.1f}%")
        loop = m["cpu_s"] * m["tsc_hz"]
        say(f"figure:   {'sum':<12}{total / fr:>10.0f}{total / rec:>10.0f}"
            f"   = {100 * total / loop:.1f}% of the pass ({loop / fr:.0f}/frame; the rest "
            f"is the benchmark's loop)")
        marks = m["marks"] / fr
        for what, i_c, p_c in (("median passes", inst_c, plain_c),
                               ("fastest passes", inst_f, plain_f)):
            say(f"figure:   {what}: instrumented {med(i_c):.0f} (runs {spread(i_c)}) vs "
                f"uninstrumented {med(p_c):.0f} (runs {spread(p_c)}) cycles/frame: "
                f"difference {med(i_c) - med(p_c):.0f}; the accounting's "
                f"{marks:.1f} marks/frame x {mark:.1f} = {marks * mark:.0f} at most")
        say(f"figure:   uninstrumented: {med(plain_c):.0f} cycles/frame, "
            f"{med(plain_c) * fr / rec:.0f} /record = "
            f"{m['tsc_hz'] / med(plain_c) / 1e6:.2f} Mframes/s and "
            f"{m['value_bytes'] * 8 * m['tsc_hz'] / (med(plain_c) * fr) / 1e9:.2f} "
            f"Gbit/s of values per core-second")
        full_c = [per(r[f]) for r in full]
        say(f"figure:   the same with every value fully scanned (--no-shapes, no shape "
            f"templates): {med(full_c):.0f} cycles/frame (runs {spread(full_c)}), "
            f"{med(full_c) * fr / rec:.0f} /record; templates {med(full_c) / med(plain_c):.2f}x "
            f"faster")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as e:
        sys.exit(f"run-dp-bench: {e}")
