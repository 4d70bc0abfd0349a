#!/usr/bin/env python3
"""Per-server-endpoint figures (the Backend Metrics record,
include/shadowtap/backends.h) against tshark 4.0, endpoint by endpoint.

What shadowtap says: `shadowctl analyze --json`'s last line, its
"backends_total" record (every epoch's endpoint table merged: counters
added, latency DDSketches merged exactly), and, for the engine's path,
`shadowtap-dp --workers 2` -> ring -> `shadowctl profiles --json`, the
Backend Metrics records of every epoch summed.

What tshark says (never shadowtap), per server endpoint (address, port):
  - packets and captured bytes each way: frames to / from it;
  - retransmissions each way: frames with tcp.analysis.retransmission;
  - zero windows each way: frames with tcp.analysis.zero_window;
  - new flows: distinct tcp.stream values;
  - latency samples: Kafka, per (tcp.stream, correlation id) the first
    request frame to the endpoint and the response from it; MQTT, per
    (tcp.stream, packet id) a PUBLISH with a packet id (QoS 1) and the
    PUBACK back.  The time of a response is its first segment's (the
    first of tcp.segment when tshark reassembled it), as shadowtap's
    st_latency measures to the response's first byte.  Count, exact min
    and max (1 us: pcap stamps are microseconds), and p50 / p99 within the
    sketch's relative error (alpha = 0.01) of tshark's latencies at the
    same ranks (rank floor(q (n - 1)), quantile.c's definition).
  - Kafka records: last offset delta + 1 per batch of each Produce, where
    tshark decodes every Produce of the endpoint (tshark 4.0 supports
    Produce v0-8 and does not decode 00-produce-v2's message set nor
    00-produce-v9: those two are reported, not compared).

Captures: every Kafka and MQTT capture under ../shared/data/pcaps (real
clients; see PROVENANCE.md) and one written here (Kafka Produce requests
(v7, one record) copied from the real 00-produce-v7-sw8.pcap onto 40
connections, 400 request/
response pairs with latencies spread from 100 us to 15 ms, whole repeated
segments each way, zero windows each way, and a FIN with window 0 which
neither counts).  Where shadowtap's retransmission rule (a segment whose
payload was entirely old) and tshark's (any segment below the next
expected sequence number, bar out-of-order ones) could differ, the
capture does not go: its repeats are whole segments, sent before the
peer acknowledged them, so tshark calls them plain retransmissions.

Environment (set by meson): SHADOWCTL, SHADOWTAP_DP, SHADOWTAP_SHARED_DATA.
Needs tshark.
"""
import decimal
import json
import os
import struct
import subprocess
import sys
import tempfile

CTL = os.environ["SHADOWCTL"]
DP = os.environ["SHADOWTAP_DP"]
DATA = os.environ["SHADOWTAP_SHARED_DATA"]
ALPHA = 0.01
KAFKA_PORTS = (9092, 36333)
MQTT_PORTS = (1883,)
failures = []
compared = {"endpoints": 0, "figures": 0}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def tshark(cap, display_filter, *fields):
    args = ["tshark", "-n", "-r", cap, "-o", "tcp.reassemble_out_of_order:TRUE",
            "-o", "tcp.relative_sequence_numbers:FALSE",
            "-d", "tcp.port==36333,kafka", "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    if display_filter:
        args += ["-Y", display_filter]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"tshark failed on {cap}: {r.stderr.decode()}")
    return [line.split("\t") for line in r.stdout.decode().splitlines()]


def us(t):
    return decimal.Decimal(t) * 1000000


def oracle(cap):
    """Per server endpoint (addr, port): tshark's figures."""
    ports = KAFKA_PORTS + MQTT_PORTS
    frames = {}
    ends = {}
    for num, t, caplen, src, dst, sport, dport, stream in tshark(
            cap, "tcp", "frame.number", "frame.time_epoch", "frame.cap_len",
            "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.stream"):
        if int(dport) in ports:
            key, way = (dst, int(dport)), "to"
        elif int(sport) in ports:
            key, way = (src, int(sport)), "from"
        else:
            continue
        e = ends.setdefault(key, {"packets_to": 0, "packets_from": 0, "bytes_to": 0,
                                  "bytes_from": 0, "retransmissions_to": 0,
                                  "retransmissions_from": 0, "zero_windows_to": 0,
                                  "zero_windows_from": 0, "streams": set(),
                                  "latency": [], "records": 0, "produce": 0,
                                  "produce_decoded": 0})
        e["packets_" + way] += 1
        e["bytes_" + way] += int(caplen)
        e["streams"].add(stream)
        frames[num] = (key, way, us(t), stream)
    for flag, name in (("tcp.analysis.retransmission", "retransmissions_"),
                       ("tcp.analysis.zero_window", "zero_windows_")):
        for (num,) in tshark(cap, flag, "frame.number"):
            if num in frames:
                key, way, _, _ = frames[num]
                ends[key][name + way] += 1

    def first_segment_time(num, segments):
        firsts = [int(s) for s in segments.split(",") if s]
        return frames[str(min(firsts))][2] if firsts else frames[num][2]

    # Kafka: request -> response by (stream, correlation id)
    asked = {}
    for num, segs, corr, api, deltas in tshark(
            cap, "kafka", "frame.number", "tcp.segment", "kafka.correlation_id",
            "kafka.api_key", "kafka.batch_last_offset_delta"):
        if num not in frames:
            continue
        key, way, t, stream = frames[num]
        for c in corr.split(","):
            if way == "to":
                asked.setdefault((key, stream, c), t)
            elif (key, stream, c) in asked:
                t0 = asked.pop((key, stream, c))
                ends[key]["latency"].append(first_segment_time(num, segs) - t0)
        if way == "to" and api.split(",")[0] == "0":
            ends[key]["records"] += sum(int(d) + 1 for d in deltas.split(",") if d)
            ends[key]["produce"] += 1
            ends[key]["produce_decoded"] += bool(deltas)
    # MQTT: PUBLISH with a packet id -> PUBACK
    asked = {}
    for num, segs, types, ids in tshark(cap, "mqtt", "frame.number", "tcp.segment",
                                        "mqtt.msgtype", "mqtt.msgid"):
        if num not in frames or not ids:
            continue
        key, way, t, stream = frames[num]
        types = types.split(",")
        for i in ids.split(","):
            if way == "to" and "3" in types:
                asked.setdefault((key, stream, i), t)
            elif way == "from" and "4" in types and (key, stream, i) in asked:
                t0 = asked.pop((key, stream, i))
                ends[key]["latency"].append(first_segment_time(num, segs) - t0)
    return ends


def ours_analyze(cap):
    r = subprocess.run([CTL, "analyze", cap, "--json", "--proto", "36333=kafka"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    check(r.returncode == 0, f"{cap}: analyze exit {r.returncode}: {r.stderr.decode()}")
    last = json.loads(r.stdout.decode().splitlines()[-1])
    total = last.get("backends_total") or {}
    check(total.get("overflow") == 0, f"{cap}: overflow {total.get('overflow')}")
    return {(b["addr"], b["port"]): b for b in total.get("backends", [])}


def rank_value(sorted_values, q):
    return sorted_values[int(q * (len(sorted_values) - 1))]


def compare(what, ours, theirs, records=True):
    check(set(ours) == set(theirs),
          f"{what}: endpoints {sorted(ours)} vs tshark's {sorted(theirs)}")
    for key in sorted(set(ours) & set(theirs)):
        o, t = ours[key], theirs[key]
        name = f"{what} {key[0]}:{key[1]}"
        compared["endpoints"] += 1
        for f in ("packets_to", "packets_from", "bytes_to", "bytes_from",
                  "retransmissions_to", "retransmissions_from",
                  "zero_windows_to", "zero_windows_from"):
            check(o[f] == t[f], f"{name}: {f} {o[f]}, tshark {t[f]}")
            compared["figures"] += 1
        check(o["flows_new"] == len(t["streams"]),
              f"{name}: flows_new {o['flows_new']}, tshark streams {len(t['streams'])}")
        if records and o["protocol"] == "kafka":
            if t["produce"] == t["produce_decoded"]:
                check(o["records"] == t["records"],
                      f"{name}: records {o['records']}, tshark {t['records']}")
                compared["figures"] += 1
            else:
                print(f"  {name}: records {o['records']}; tshark decodes "
                      f"{t['produce_decoded']} of {t['produce']} Produce requests: "
                      f"not compared", flush=True)
        lat = sorted(t["latency"])
        lo = o.get("latency_us")
        n = lo["count"] if lo else 0
        check(n == len(lat), f"{name}: latency samples {n}, tshark {len(lat)}")
        compared["figures"] += 2
        if not lat or not lo or n != len(lat):
            continue
        check(abs(decimal.Decimal(repr(lo["min"])) - lat[0]) <= 1 and
              abs(decimal.Decimal(repr(lo["max"])) - lat[-1]) <= 1,
              f"{name}: latency min/max {lo['min']}/{lo['max']} us, tshark "
              f"{lat[0]}/{lat[-1]}")
        for q in (0.5, 0.99):
            v = float(rank_value(lat, q))
            est = lo["p50" if q == 0.5 else "p99"]
            # the sketch's alpha, and 1 us of stamp resolution
            check(abs(est - v) <= ALPHA * v + 1.0,
                  f"{name}: p{int(q * 100)} {est} us, tshark {v} us")
            compared["figures"] += 1
        print(f"  {name}: {n} latencies, p50 {lo['p50']:.1f} us (tshark "
              f"{float(rank_value(lat, 0.5)):.1f}), p99 {lo['p99']:.1f} us (tshark "
              f"{float(rank_value(lat, 0.99)):.1f})", flush=True)


# ---- a capture written here ------------------------------------------------

def pcap_header():
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)


def frame(ts_us, src, dst, sport, dport, seq, ack, flags, window, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                      5 << 4, flags, window, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     bytes(src), bytes(dst)) + tcp
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
    return struct.pack("<IIII", ts_us // 1000000, ts_us % 1000000, len(eth),
                       len(eth)) + eth


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def kafka_payloads():
    rows = tshark(os.path.join(DATA, "pcaps/kafka/00-produce-v7-sw8.pcap"), "tcp.len > 0",
                  "tcp.payload")
    req, resp = (bytes.fromhex(r[0].replace(":", "")) for r in rows)
    check(req[4:8] == b"\x00\x00\x00\x07" and len(resp) > 8,
          "00-produce-v7-sw8: a Produce v7 and its response")
    return req, resp


def write_synthetic(path):
    req, resp = kafka_payloads()
    server = (10, 0, 0, 10)
    out = []
    base = 1767225600 * 1000000 + 250000
    for f in range(40):
        client = (10, 1, f // 200, 1 + f % 200)
        cport = 40000 + f
        t = base + f * 37000
        cseq, sseq = 1000 + f * 7919, 900000 + f * 104729
        out.append((t, frame(t, client, server, cport, 9092, cseq, 0, SYN, 64240)))
        out.append((t + 100, frame(t + 100, server, client, 9092, cport, sseq, cseq + 1,
                                   SYN | ACK, 65160)))
        cseq += 1
        sseq += 1
        out.append((t + 200, frame(t + 200, client, server, cport, 9092, cseq, sseq, ACK,
                                   64240)))
        t += 1000
        for k in range(10):
            corr = f * 100 + k
            lat = int(round(100 * 150 ** (((f * 10 + k) * 37 % 400) / 399.0)))
            q = req[:8] + struct.pack(">i", corr) + req[12:]
            p = resp[:4] + struct.pack(">i", corr) + resp[8:]
            rq = frame(t, client, server, cport, 9092, cseq, sseq, PSH | ACK, 64240, q)
            out.append((t, rq))
            if k == 3 and f % 4 == 0:      # the request again, whole
                out.append((t + lat // 2, rq))
            cseq += len(q)
            rs = frame(t + lat, server, client, 9092, cport, sseq, cseq, PSH | ACK, 65160, p)
            out.append((t + lat, rs))
            if k == 5 and f % 5 == 0:      # the response again, whole
                out.append((t + lat + 2000, rs))
            sseq += len(p)
            if k == 7 and f % 3 == 0:      # the server's window closes, opens
                out.append((t + lat + 1000, frame(t + lat + 1000, server, client, 9092,
                                                  cport, sseq, cseq, ACK, 0)))
                out.append((t + lat + 1500, frame(t + lat + 1500, server, client, 9092,
                                                  cport, sseq, cseq, ACK, 65160)))
            if k == 8 and f % 6 == 1:      # the client's
                out.append((t + lat + 1000, frame(t + lat + 1000, client, server, cport,
                                                  9092, cseq, sseq, ACK, 0)))
                out.append((t + lat + 1500, frame(t + lat + 1500, client, server, cport,
                                                  9092, cseq, sseq, ACK, 64240)))
            t += 20000
        out.append((t, frame(t, client, server, cport, 9092, cseq, sseq, FIN | ACK, 64240)))
        # the server's FIN with window 0: not a zero window for either
        out.append((t + 100, frame(t + 100, server, client, 9092, cport, sseq, cseq + 1,
                                   FIN | ACK, 0)))
        out.append((t + 200, frame(t + 200, client, server, cport, 9092, cseq + 1,
                                   sseq + 1, ACK, 64240)))
    out.sort(key=lambda x: x[0])
    with open(path, "wb") as fp:
        fp.write(pcap_header())
        for _, b in out:
            fp.write(b)


def dp_records(cap, tmp):
    """shadowtap-dp, 2 workers, the ring's Backend Metrics records summed
    per endpoint over the epochs (latency: sample counts only)."""
    inst = f"bt{os.getpid()}"
    subprocess.run([CTL, "profiles", "--instance", inst, "--drain"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    consumer = subprocess.Popen([CTL, "profiles", "--instance", inst, "--json",
                                 "--until-exit", "--wait-ms", "30000"],
                                stdout=subprocess.PIPE)
    try:
        dp = subprocess.run([DP, "--workers", "2", "--instance", inst, "--pcap", cap],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        out, _ = consumer.communicate(timeout=120)
    finally:
        consumer.kill()
        if os.path.exists(f"/dev/shm/shadowtap-{inst}"):
            os.unlink(f"/dev/shm/shadowtap-{inst}")
    check(dp.returncode == 0, f"shadowtap-dp exit {dp.returncode}: {dp.stderr.decode()}")
    sums, records = {}, 0
    for line in out.decode().splitlines():
        o = json.loads(line)
        rec = o.get("backends_record")
        if not rec:
            continue
        records += 1
        check(rec["cores_merged"] == 2 == rec["cores_expected"] and rec["overflow"] == 0,
              f"dp: a record not merged from both cores or with overflow: {rec}")
        for b in rec["backends"]:
            s = sums.setdefault((b["addr"], b["port"]), {"protocol": b["protocol"],
                                                         "latency_count": 0})
            for k, v in b.items():
                if isinstance(v, int) and k not in ("family", "port"):
                    s[k] = s.get(k, 0) + v
            s["latency_count"] += b["latency_us"]["count"] if b["latency_us"] else 0
    check(records > 0, "dp: no Backend Metrics record on the ring")
    return sums, records


def main():
    pcaps = sorted(os.path.join(DATA, "pcaps", d, f) for d in ("kafka", "mqtt")
                   for f in os.listdir(os.path.join(DATA, "pcaps", d)) if f.endswith(".pcap"))
    check(len(pcaps) >= 10, f"reference captures: {len(pcaps)}")
    for cap in pcaps:
        print(os.path.relpath(cap, DATA), flush=True)
        compare(os.path.basename(cap), ours_analyze(cap), oracle(cap))

    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "synthetic.pcap")
        write_synthetic(cap)
        print("synthetic.pcap", flush=True)
        theirs = oracle(cap)
        t = theirs.get(("10.0.0.10", 9092), {})
        # the capture must exercise every figure (else the test proves little)
        check(t and t["retransmissions_to"] == 10 and t["retransmissions_from"] == 8 and
              t["zero_windows_from"] == 14 and t["zero_windows_to"] == 7 and
              len(t["latency"]) == 400,
              f"synthetic: tshark sees {({k: v for k, v in t.items() if k not in ('streams', 'latency')})}"
              f" with {len(t.get('latency', []))} latencies")
        ours = ours_analyze(cap)
        compare("synthetic", ours, theirs)
        o = ours.get(("10.0.0.10", 9092), {})
        print(f"  synthetic 10.0.0.10:9092: packets {o.get('packets_to')}/"
              f"{o.get('packets_from')}, retransmissions {o.get('retransmissions_to')}/"
              f"{o.get('retransmissions_from')}, zero windows {o.get('zero_windows_to')}/"
              f"{o.get('zero_windows_from')}, flows {o.get('flows_new')}, records "
              f"{o.get('records')}", flush=True)

        sums, n = dp_records(cap, tmp)
        d = sums.get(("10.0.0.10", 9092), {})
        for f in ("packets_to", "packets_from", "bytes_to", "bytes_from",
                  "retransmissions_to", "retransmissions_from", "zero_windows_to",
                  "zero_windows_from", "records"):
            check(d.get(f) == t.get(f), f"dp: {f} {d.get(f)}, tshark {t.get(f)}")
        check(d.get("flows_new") == len(t["streams"]),
              f"dp: flows_new {d.get('flows_new')}, tshark {len(t['streams'])}")
        check(d.get("latency_count") == len(t["latency"]),
              f"dp: latency samples {d.get('latency_count')}, tshark {len(t['latency'])}")
        print(f"  shadowtap-dp, 2 workers: {n} Backend Metrics records, sums equal "
              f"tshark's: {not failures}", flush=True)

    print(f"{compared['endpoints']} endpoint comparisons, {compared['figures']} figures")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all match")


main()
