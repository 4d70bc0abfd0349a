#!/usr/bin/env python3
"""The record path end to end, against the generator's exact ground truth
and against tshark.

1. shadowtap-gen writes a capture of more than 10^6 records over five
   streams and all four protocols (Kafka with random TCP segmentation,
   reordering and duplicates; MQTT 5 QoS 1; NATS HPUB; JSONL over UDP and
   TCP), with schema changes (a type change, a field added, a field
   removed).
2. `shadowctl analyze --json` with 1 s epochs: for every stream and epoch,
   records and Kafka per-partition counts equal the truth exactly, and so
   do the TCP streams' connections (flows_new summed, flows_active); distinct
   /user/id keys are within the HyperLogLog bound (sigma = 1.04/sqrt(2^12):
   every epoch within 5 sigma, at most 1 % beyond 3 sigma); the schema
   (paths and types) equals the truth's, and the drift against the first
   epoch equals the drift the truth's schemas imply, so each change is
   reported in the epoch where it shows.
3. The same capture with one epoch over the whole run and k = 256 heavy
   hitters (a config file): the top-10 keys of each skewed stream are the
   truth's top 10, each with count - error <= true <= count; distinct keys
   within 3 sigma.
4. A Kafka-only capture (Produce v7 and v8): the records per topic and
   partition that analyze counts equal tshark's (last offset delta + 1 per
   batch of every Produce request).

5. shadowctl analyze's exit codes and messages for bad input, and a real
   pcapng capture (nDPI's MQTT) against tshark.
6. The bundled sample (samples/) is tools/gen/make-sample's output, and the
   main job counts every record of its truth.

Environment (set by meson): SHADOWTAP_GEN, SHADOWCTL, SHADOWTAP_SHARED_DATA.
Needs tshark.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

GEN = os.environ["SHADOWTAP_GEN"]
CTL = os.environ["SHADOWCTL"]
SIGMA = 1.04 / math.sqrt(1 << 12)
DURATION_S = 40
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, **kw):
    print("$", " ".join(args), flush=True)
    return subprocess.run(args, check=True, **kw)


def analyze(pcap, *extra):
    out = run([CTL, "analyze", pcap, "--key", "/user/id", "--proto", "5141=jsonl",
               "--json", *extra], stdout=subprocess.PIPE).stdout.decode()
    lines = [json.loads(l) for l in out.splitlines()]
    profiles = {}
    for o in lines:
        if "stream" in o:
            profiles.setdefault(o["stream"], {})[o["epoch_start_ns"]] = o
    return profiles, lines[-1]["counters"]


def schema_of(entries):
    return {e["path"]: tuple(sorted(e["types"])) for e in entries}


def drift(base, cur):
    return (sorted(p for p in cur if p not in base),
            sorted(p for p in base if p not in cur),
            sorted(p for p in cur if p in base and cur[p] != base[p]))


def check_epochs(truth, profiles):
    for s in truth["streams"]:
        name = s["name"]
        ours = profiles.get(name, {})
        check(sum(p["records"] for p in ours.values()) == s["records"],
              f"{name}: records {sum(p['records'] for p in ours.values())} != {s['records']}")
        over3 = 0
        worst = 0.0
        base = None
        for e in s["epochs"]:
            p = ours.get(e["start_ns"])
            if not e["records"]:
                check(p is None or p["records"] == 0, f"{name} epoch {e['index']}: records where none")
                continue
            if p is None:
                check(False, f"{name} epoch {e['index']}: no profile")
                continue
            check(p["records"] == e["records"],
                  f"{name} epoch {e['index']}: records {p['records']} != {e['records']}")
            if "partition_records" in e:
                got = p.get("kafka_partitions", [])
                want = e["partition_records"]
                want = want[:max((i + 1 for i, v in enumerate(want) if v), default=0)]
                check(got == want, f"{name} epoch {e['index']}: partitions {got} != {want}")
            est = p["cardinality"]["/user/id"]
            true = e["distinct_keys"]
            dev = abs(est - true) / true / SIGMA
            worst = max(worst, dev)
            over3 += dev > 3
            check(dev <= 5, f"{name} epoch {e['index']}: distinct {est} vs {true} ({dev:.1f} sigma)")
            want_schema = schema_of(e["schema"])
            got_schema = schema_of(p["schema_fields"])
            check(got_schema == want_schema,
                  f"{name} epoch {e['index']}: schema {got_schema} != {want_schema}")
            if base is None:
                base = want_schema
                check("schema_drift" not in p, f"{name}: drift in the first epoch")
                continue
            added, missing, changed = drift(base, want_schema)
            d = p.get("schema_drift", {})
            got = (sorted(x["path"] for x in d.get("added", [])),
                   sorted(x["path"] for x in d.get("missing", [])),
                   sorted(x["path"] for x in d.get("type_changed", [])))
            check(got == (added, missing, changed),
                  f"{name} epoch {e['index']}: drift {got} != {(added, missing, changed)}")
        epochs = sum(1 for e in s["epochs"] if e["records"])
        check(over3 <= max(1, epochs // 100), f"{name}: {over3} epochs beyond 3 sigma")
        if s["transport"] == "tcp":
            new = sum(p["flows_new"] for p in ours.values())
            active = max(p["flows_active"] for p in ours.values())
            check(new == s["connections"] and active == s["connections"],
                  f"{name}: flows new {new}, active at most {active}, connections {s['connections']}")
        print(f"{name}: {s['records']} records in {epochs} epochs exact; distinct keys "
              f"worst {worst:.2f} sigma, {over3} beyond 3 sigma")
        for c in s.get("schema_changes", []):
            print(f"  schema change {c['change']}: first records in epoch {c['first_epoch']}")


def check_whole_run(truth, profiles):
    for s in truth["streams"]:
        name = s["name"]
        ps = [p for p in profiles.get(name, {}).values() if p["records"]]
        check(len(ps) == 1, f"{name}: {len(ps)} profiles for the whole run")
        if len(ps) != 1:
            continue
        p = ps[0]
        check(p["records"] == s["records"], f"{name}: whole-run records")
        est, true = p["cardinality"]["/user/id"], s["distinct_keys"]
        dev = abs(est - true) / true / SIGMA
        check(dev <= 3, f"{name}: whole-run distinct {est} vs {true} ({dev:.1f} sigma)")
        top = p["top_keys_by_field"]["/user/id"]
        truth_top = s["top_keys"][:10]
        ours = {t["key"]: t for t in top[:10]}
        counts = {t["key"]: t["count"] for t in s["top_keys"]}
        # only a skewed stream has a well-defined top 10: its 10th key must
        # stand well above the mean count (uniform keys only tie)
        if truth_top[-1]["count"] <= 2 * s["records"] / s["distinct_keys"]:
            print(f"{name}: top-10 not separated in the truth (uniform keys); bounds only")
        else:
            check(set(ours) == {t["key"] for t in truth_top},
                  f"{name}: top-10 {sorted(ours)} != {sorted(t['key'] for t in truth_top)}")
        for k, t in ours.items():
            if k in counts:
                check(t["count"] - t["error"] <= counts[k] <= t["count"],
                      f"{name}: key {k} count {t['count']}-{t['error']} vs true {counts[k]}")
        print(f"{name}: whole run distinct {est:.0f} vs {true} ({dev:.2f} sigma); top-10 "
              + ", ".join(f"{t['key']}={t['count']}" for t in top[:10]))


def tshark_kafka(pcap):
    out = subprocess.run(
        ["tshark", "-n", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE",
         "-d", "tcp.port==9092,kafka", "-Y", "kafka.api_key==0 && tcp.dstport==9092",
         "-T", "fields", "-e", "kafka.topic_name", "-e", "kafka.partition_id",
         "-e", "kafka.batch_last_offset_delta"],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    per = {}
    for line in out.splitlines():
        topics, parts, deltas = line.split("\t")
        # one topic per request in the generator's output
        check("," not in topics, "tshark: several topics in one request")
        for part, delta in zip(parts.split(","), deltas.split(",")):
            key = (topics, int(part))
            per[key] = per.get(key, 0) + int(delta) + 1
    return per


def check_cli(tmp, shared):
    """Exit codes and messages of shadowctl analyze, and a real pcapng."""
    def ctl(*args):
        r = subprocess.run([CTL, "analyze", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        return r.returncode, r.stderr.decode()

    rc, err = ctl(os.path.join(tmp, "missing.pcap"))
    check(rc == 1 and "No such file" in err, f"missing file: {rc} {err!r}")
    rc, err = ctl("x.pcap", "--proto", "99999=kafka")
    check(rc == 2 and "99999" in err, f"bad --proto: {rc} {err!r}")
    rc, err = ctl("x.pcap", "--key", "user/id")
    check(rc == 2 and "--key" in err, f"bad --key: {rc} {err!r}")
    rc, err = ctl("x.pcap", "--epoch-ms", "0")
    check(rc == 2 and "--epoch-ms" in err, f"bad --epoch-ms: {rc} {err!r}")
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("# a comment\ndefaults = { hll_precision = 99; };\n")
    rc, err = ctl("x.pcap", "--config", bad)
    check(rc == 2 and f"{bad}:2:" in err, f"bad config: {rc} {err!r}")
    # a pcapng capture of a real MQTT client (nDPI's): the PUBLISH packets
    # toward the broker that tshark sees are the records analyze counts
    pcapng = os.path.join(shared, "pcaps", "mqtt", "ndpi-mqtt.pcap")
    theirs = subprocess.run(
        ["tshark", "-n", "-r", pcapng, "-Y", "mqtt.msgtype == 3 && tcp.dstport == 1883",
         "-T", "fields", "-e", "mqtt.topic"], check=True, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL).stdout.decode().split()
    r = run([CTL, "analyze", pcapng, "--json"], stdout=subprocess.PIPE)
    ours = {}
    for line in r.stdout.decode().splitlines():
        o = json.loads(line)
        if "stream" in o and o["records"]:
            ours[o["stream"]] = ours.get(o["stream"], 0) + o["records"]
    want = {}
    for t in theirs:
        for topic in t.split(","):
            want["mqtt:" + topic] = want.get("mqtt:" + topic, 0) + 1
    check(ours == want and want, f"pcapng MQTT: ours {ours} tshark {want}")
    print(f"CLI errors and codes as documented; pcapng: {want}")


def check_sample(tmp):
    """The bundled sample is what tools/gen/make-sample writes, and the main
    job counts every record of its truth."""
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.path.dirname(os.path.dirname(os.path.dirname(GEN)))
    out = os.path.join(tmp, "sample.pcap")
    run(["bash", os.path.join(src, "tools", "gen", "make-sample"), out],
        env=dict(os.environ, BUILD=build), stderr=subprocess.DEVNULL)
    for suffix in ("", ".truth.json"):
        with open(out + suffix, "rb") as a, open(os.path.join(src, "samples", "sample.pcap" + suffix), "rb") as b:
            check(a.read() == b.read(), f"samples/sample.pcap{suffix} is not make-sample's output")
    truth = json.load(open(out + ".truth.json"))
    r = run([CTL, "analyze", os.path.join(src, "samples", "sample.pcap"), "--config",
             os.path.join(src, "samples", "sample.conf"), "--json"], stdout=subprocess.PIPE)
    records = sum(json.loads(l).get("records", 0) for l in r.stdout.decode().splitlines())
    want = sum(s["records"] for s in truth["streams"])
    check(records == want, f"main job: {records} records, truth {want}")
    print(f"bundled sample: make-sample's output; the main job counts its {want} records")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_cli(tmp, os.environ["SHADOWTAP_SHARED_DATA"])
        check_sample(tmp)
        big = os.path.join(tmp, "big.pcap")
        run([GEN, "-q", "-o", big, "--seed", "7", "--duration", f"{DURATION_S}s",
             "--stream", "kafka:orders,rate=10000,keys=100000,zipf=1.1,partitions=8,batch=20,"
                         "split=random,reorder=0.01,dup=0.01,schema=amount:string@20s",
             "--stream", "mqtt:sensors/temp,version=5,qos=1,rate=5000,keys=20000,zipf=1.3,"
                         "schema=+extra:number@10s",
             "--stream", "nats:orders.eu,headers=1,rate=5000,keys=50000,zipf=1.2,conns=3",
             "--stream", "jsonl:udp:5140,rate=5000,keys=10000,zipf=1.5,schema=-note@30s",
             "--stream", "jsonl:tcp:5141,rate=1000,keys=1000"])
        truth = json.load(open(big + ".truth.json"))
        total = sum(s["records"] for s in truth["streams"])
        check(total >= 10**6, f"capture holds {total} records, fewer than 10^6")
        print(f"capture: {total} records, {truth['frames']} frames")

        profiles, counters = analyze(big)
        check_epochs(truth, profiles)
        reasm = counters["worker"]["reassembly"]
        check(reasm["gaps"] == 0, f"reassembly gaps {reasm['gaps']} in a lossless capture")
        print(f"reassembly: {reasm['duplicates']} duplicates, {reasm['ooo_delivered']} "
              f"out-of-order segments delivered, {reasm['bytes_carried']} bytes carried, 0 gaps")

        conf = os.path.join(tmp, "k256.conf")
        with open(conf, "w") as f:
            f.write("defaults = { heavy_hitters = 256; };\n")
        profiles, _ = analyze(big, "--config", conf, "--epoch-ms", str(DURATION_S * 1000))
        check_whole_run(truth, profiles)

        kafka = os.path.join(tmp, "kafka.pcap")
        run([GEN, "-q", "-o", kafka, "--seed", "3", "--duration", "10s",
             "--stream", "kafka:orders,rate=8000,keys=50000,zipf=1.1,partitions=6,batch=10,split=random",
             "--stream", "kafka:payments,rate=2000,keys=5000,version=7,partitions=3"])
        profiles, _ = analyze(kafka, "--epoch-ms", "10000")
        theirs = tshark_kafka(kafka)
        ours = {}
        for name, eps in profiles.items():
            for p in eps.values():
                for i, n in enumerate(p.get("kafka_partitions", [])):
                    if n:
                        key = (name.split(":", 1)[1], i)
                        ours[key] = ours.get(key, 0) + n
        check(ours == theirs, f"Kafka records per topic/partition: ours {ours} tshark {theirs}")
        print(f"Kafka vs tshark: {sum(theirs.values())} records in {len(theirs)} topic-partitions, equal")

    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
