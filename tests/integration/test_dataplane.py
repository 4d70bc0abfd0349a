#!/usr/bin/env python3
"""The data plane end to end: shadowtap-dp -> shared-memory ring ->
`shadowctl profiles`, against the generator's exact ground truth.

1. shadowtap-gen writes a capture over five streams and all four protocols
   (Kafka with random TCP segmentation, reordering and duplicates; MQTT 5;
   NATS HPUB over 3 connections; JSONL over UDP and TCP) with schema
   changes.
2. For each input backend (libpcap on the file; DPDK's net_pcap on the same
   file, no hugepages) and for 1 and 2 worker cores: shadowtap-dp runs with
   a consumer (`shadowctl profiles --until-exit --json`) reading the ring at
   the same time.  Every profile read from the ring is checked as the
   record-path test checks analyze's: records per stream and epoch and Kafka
   per-partition counts exactly equal the truth, TCP connections exact,
   distinct keys within the HyperLogLog bound, the schema and its drift in
   the right epoch.  Each (stream, epoch) comes exactly once, merged from
   every core (cores_merged = workers, never partial: a file input waits
   for late cores), and the ring dropped nothing.
3. A never-ending input (net_pcap infinite_rx, the wall clock): `shadowctl
   status` shows growing counters while it runs; SIGTERM stops it with exit
   0, and the records in the profiles plus those counted lost equal the
   records the cores counted.
4. `shadowtap-dp` and `shadowctl profiles/status`: usage errors and
   messages.

Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP, SHADOWCTL,
SHADOWTAP_HAVE_DPDK (1 when shadowtap-dp was built with DPDK).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_record_path as rp  # noqa: E402  (its checks and failure list)

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CTL = os.environ["SHADOWCTL"]
HAVE_DPDK = os.environ.get("SHADOWTAP_HAVE_DPDK") == "1"
check = rp.check


def run_dp(pcap, backend, workers, instance, tmp):
    """shadowtap-dp on pcap with a concurrent ring consumer; returns the
    profiles by stream and epoch, the consumer's counters and dp's stats."""
    subprocess.run([CTL, "profiles", "--instance", instance, "--drain"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    consumer = subprocess.Popen(
        [CTL, "profiles", "--instance", instance, "--json", "--until-exit",
         "--wait-ms", "30000"], stdout=subprocess.PIPE)
    args = [DP, "--workers", str(workers), "--instance", instance, "--key", "/user/id",
            "--proto", "5141=jsonl", "--stats"]
    if backend == "pcap":
        args += ["--pcap", pcap]
    else:
        args += ["--dpdk", "--", "--no-huge", "-m", "512", "--no-pci", "--no-telemetry",
                 "--lcores", f"(0-{workers - 1})@(0-1)", "--log-level", "*:warning",
                 "--vdev", f"net_pcap_{instance},rx_pcap={pcap}"]
    print("$", " ".join(args), flush=True)
    try:
        dp = subprocess.run(args, stdout=subprocess.PIPE, timeout=600)
        out, _ = consumer.communicate(timeout=120)
    finally:
        consumer.kill()
        for name in (f"/dev/shm/shadowtap-{instance}",):
            if os.path.exists(name):
                os.unlink(name)
    check(dp.returncode == 0, f"{backend}/{workers}: shadowtap-dp exit {dp.returncode}")
    check(consumer.returncode == 0, f"{backend}/{workers}: consumer exit {consumer.returncode}")
    stats = json.loads(dp.stdout.decode().splitlines()[-1]) if dp.stdout else {}
    lines = [json.loads(l) for l in out.decode().splitlines()]
    profiles, dup = {}, 0
    for o in lines:
        if "stream" in o:
            by_epoch = profiles.setdefault(o["stream"], {})
            dup += o["epoch_start_ns"] in by_epoch
            by_epoch[o["epoch_start_ns"]] = o
    counters = lines[-1]["counters"] if lines and "counters" in lines[-1] else {}
    check(dup == 0, f"{backend}/{workers}: {dup} (stream, epoch) pairs came twice")
    return profiles, counters, stats, [o for o in lines if "stream" in o]


def check_run(truth, backend, workers, tmp, pcap, instance):
    profiles, counters, stats, records = run_dp(pcap, backend, workers, instance, tmp)
    rp.check_epochs(truth, profiles)
    bad = [p for p in records if p["cores_merged"] != workers or
           p["cores_expected"] != workers or p["partial"]]
    check(not bad, f"{backend}/{workers}: {len(bad)} profiles not merged from every core")
    ring = counters.get("ring", {})
    check(ring.get("dropped_full", 1) == 0 and ring.get("dropped_oversize", 1) == 0,
          f"{backend}/{workers}: ring dropped records: {ring}")
    # the ring carries the profiles and, after each epoch's, one Backend
    # Metrics record (shadowtap/backends.h)
    check(counters.get("profiles") == len(records) and
          len(records) + counters.get("backends_records", -1) == ring.get("committed"),
          f"{backend}/{workers}: profiles read {counters.get('profiles')}, "
          f"printed {len(records)}, backends records {counters.get('backends_records')}, "
          f"committed {ring.get('committed')}")
    merger = stats.get("merger", {})
    check(merger.get("backends_records") == counters.get("backends_records") and
          merger.get("backends_records", 0) > 0 and merger.get("backends_build_errors") == 0,
          f"{backend}/{workers}: merger {merger} vs {counters.get('backends_records')} "
          f"backends records read")
    check(merger.get("profiles") == len(records) and merger.get("partial_profiles") == 0,
          f"{backend}/{workers}: merger {merger} vs {len(records)} read")
    cores = stats.get("cores", [])
    frames = sum(c["frames"] for c in cores)
    check(frames == truth["frames"], f"{backend}/{workers}: {frames} frames worked on, "
          f"capture has {truth['frames']}")
    lost = sum(c["epochs_lost"] + c["inbox_full_drops"] for c in cores)
    check(lost == 0, f"{backend}/{workers}: {lost} epochs or frames lost on a file input")
    if workers > 1:
        share = [c["frames"] for c in cores]
        check(min(share) > 0, f"{backend}/{workers}: a core got no frames: {share}")
    print(f"{backend}, {workers} worker(s): {len(records)} profiles from the ring, "
          f"frames per core {[c['frames'] for c in cores]}")


def check_live_status(pcap, instance):
    """A never-ending input (DPDK net_pcap infinite_rx: no timestamps, so the
    wall clock): `shadowctl status` reads growing counters while it runs, in
    JSON and as a table; SIGTERM stops it cleanly, its last epoch written."""
    import signal
    import time
    consumer = subprocess.Popen(
        [CTL, "profiles", "--instance", instance, "--json", "--until-exit",
         "--wait-ms", "30000"], stdout=subprocess.PIPE)
    dp = subprocess.Popen(
        [DP, "--workers", "2", "--instance", instance, "--epoch-ms", "500", "--stats",
         "--dpdk", "--", "--no-huge", "-m", "512", "--no-pci", "--no-telemetry",
         "--lcores", "(0-1)@(0-1)", "--vdev", f"net_pcap_{instance},rx_pcap={pcap},infinite_rx=1"],
        stdout=subprocess.PIPE)
    try:
        seen = []
        deadline = time.time() + 60
        while len(seen) < 2 and time.time() < deadline:
            time.sleep(1.0)
            r = subprocess.run([CTL, "status", "--instance", instance, "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode == 0:
                doc = json.loads(r.stdout)
                frames = sum(c["frames"] for c in doc["engine"]["cores"])
                if frames:
                    seen.append((frames, doc))
        check(len(seen) == 2 and seen[1][0] > seen[0][0],
              f"live: status frames did not grow: {[f for f, _ in seen]}")
        if seen:
            doc = seen[-1][1]
            check(doc["workers"] == 2 and doc["engine"]["running"] is True
                  and len(doc["engine"]["cores"]) == 2
                  and doc["engine"]["capture"]["backend"] == "dpdk",
                  f"live: status document {json.dumps(doc)[:300]}")
        table = subprocess.run([CTL, "status", "--instance", instance],
                               stdout=subprocess.PIPE).stdout.decode()
        check("running" in table and table.count("\n") >= 5,
              f"live: status table {table!r}")
        dp.send_signal(signal.SIGTERM)
        out, _ = dp.communicate(timeout=60)
        check(dp.returncode == 0, f"live: shadowtap-dp exit {dp.returncode} after SIGTERM")
        lines = out.decode().splitlines()
        stats = json.loads(lines[-1]) if lines else {"cores": []}
        frames = sum(c["frames"] for c in stats["cores"])
        check(seen and frames >= seen[-1][0], "live: final frames below the status page's")
        profiles, _ = consumer.communicate(timeout=60)
        lines = [json.loads(l) for l in profiles.decode().splitlines()]
        records = sum(o["records"] for o in lines if "stream" in o)
        worked = sum(c["records"] for c in stats["cores"])
        lost = sum(c["records_lost"] for c in stats["cores"])
        check(records + lost == worked,
              f"live: profiles hold {records} records + {lost} lost, cores counted {worked}")
        print(f"live run: {frames} frames, {worked} records, {records} in "
              f"{sum(1 for o in lines if 'stream' in o)} profiles, {lost} lost; "
              f"status read {len(seen)} times while running")
    finally:
        dp.kill()
        consumer.kill()
        if os.path.exists(f"/dev/shm/shadowtap-{instance}"):
            os.unlink(f"/dev/shm/shadowtap-{instance}")


def check_cli(tmp):
    def bad(args, code, needle):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = r.stderr.decode()
        check(r.returncode == code and needle in err,
              f"{' '.join(args[1:])}: exit {r.returncode}, stderr {err!r}")

    bad([DP], 2, "no input")
    bad([DP, "--pcap", "a", "--pcap", "b"], 2, "one input only")
    bad([DP, "--pcap", os.path.join(tmp, "missing.pcap")], 1, "missing.pcap")
    bad([DP, "--pcap", "x", "--workers", "0"], 2, "--workers")
    bad([DP, "--pcap", "x", "--ring-mib", "6"], 2, "power of two")
    bad([DP, "--pcap", "x", "--clock", "sundial"], 2, "--clock")
    bad([DP, "--pcap", "x", "--", "--no-huge"], 2, "--dpdk only")
    bad([DP, "--pcap", "x", "--instance", "a/b"], 2, "--instance")
    bad([CTL, "profiles", "--instance", "nobody-here"], 1, "no such ring")
    bad([CTL, "status", "--instance", "nobody-here"], 1, "no data plane is running")
    r = subprocess.run([DP, "--help"], stdout=subprocess.PIPE)
    check(r.returncode == 0 and b"--workers" in r.stdout, "shadowtap-dp --help")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_cli(tmp)
        cap = os.path.join(tmp, "dp.pcap")
        rp.run([GEN, "-q", "-o", cap, "--seed", "11", "--duration", "12s",
                "--stream", "kafka:orders,rate=6000,keys=50000,zipf=1.1,partitions=8,batch=20,"
                            "split=random,reorder=0.01,dup=0.01,schema=amount:string@6s",
                "--stream", "mqtt:sensors/temp,version=5,qos=1,rate=3000,keys=20000,zipf=1.3,"
                            "schema=+extra:number@4s",
                "--stream", "nats:orders.eu,headers=1,rate=3000,keys=30000,zipf=1.2,conns=3",
                "--stream", "jsonl:udp:5140,rate=3000,keys=10000,zipf=1.5,schema=-note@8s",
                "--stream", "jsonl:tcp:5141,rate=1000,keys=1000"])
        truth = json.load(open(cap + ".truth.json"))
        total = sum(s["records"] for s in truth["streams"])
        print(f"capture: {total} records, {truth['frames']} frames")
        backends = ["pcap"] + (["dpdk"] if HAVE_DPDK else [])
        check(HAVE_DPDK, "shadowtap-dp was built without DPDK: the net_pcap runs are missing")
        for backend in backends:
            for workers in (1, 2):
                check_run(truth, backend, workers, tmp, cap, f"t{os.getpid()}{backend}{workers}")
        if HAVE_DPDK:
            # the bundled sample: infinite_rx holds the whole file in mbufs
            sample = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                  "samples", "sample.pcap")
            check_live_status(sample, f"t{os.getpid()}live")
    if rp.failures:
        print(f"{len(rp.failures)} failures")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
