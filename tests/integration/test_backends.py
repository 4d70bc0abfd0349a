#!/usr/bin/env python3
"""Per-backend reactive metrics end to end: shadowtap-gen -> shadowtap-dp
(its Backend Metrics record, one per epoch on the ring) -> shadowtap-cp
(aggregation per config backend, the policy's reactive inputs) ->
`shadowctl backends --json`, `shadowctl decisions --json` and Prometheus.

The capture: a Kafka stream to 10.0.0.10:9092 (Produce v8, acks=1: every
request gets a response 150-1500 us later) and an MQTT stream to
10.0.0.20:1883.  The config's backend b0 has address 10.0.0.10, the
standby b1 10.0.0.11 (no traffic); nothing is configured at 10.0.0.20, so
that endpoint is "unmatched".

Oracles, all from tshark 4.0 on the same capture (never from shadowtap):
  - Kafka records: per Produce request to 9092, last offset delta + 1 per
    partition batch, summed;
  - packets: frames 10.0.0.10:9092 <- clients, and -> clients;
  - retransmissions: frames of those tshark's TCP analysis flags as a
    retransmission (the generator duplicates 2 % of the client's segments);
  - latency: per (TCP stream, correlation id), the response frame's time
    minus the request frame's time; shadowtap's p99 of an epoch must lie
    between tshark's order statistics around rank 0.99 of that epoch's
    latencies (a sample in the epoch of its request or of its response),
    widened by the sketch's relative error (1 %) and 1 us of pcap stamps;
  - MQTT: PUBLISH frames to 1883 (the unmatched endpoint's records over
    the run are not kept, so only its presence and protocol are checked).

Run A, the reactive limits off: b0's totals equal tshark's counts, b1 has
nothing, Prometheus says the same, and no decision names a reactive
metric.  Run B, policy.latency_p99_ms_max = 0.1 ms (far below the
generator's 150-1500 us reply delays): a scale_up of b1 whose reasons name
"latency p99 ms" and the judged epoch's p99 as tshark measures it.

Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP, SHADOWTAP_CP,
SHADOWCTL.  Needs tshark.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]
KAFKA_SERVER = "10.0.0.10"
MQTT_SERVER = "10.0.0.20"
failures = []

CONFIG = """
streams = { rules = (
    { name = "orders"; protocol = "kafka"; match = "orders"; pool = "ingest"; }
); };
pools = ( { name = "ingest"; backend_capacity_rps = 1000000.0; min_backends = 1;
            max_backends = 2; } );
backends = (
    { name = "b0"; pool = "ingest"; address = "10.0.0.10"; },
    { name = "b1"; pool = "ingest"; address = "10.0.0.11"; standby = true; }
);
policy = { cooldown_s = 30; scale_up_utilization = 0.8; scale_down_utilization = 0.2;
           latency_p99_ms_max = %(latency)s; retransmissions_per_s_max = %(retrans)s;
           zero_windows_per_s_max = %(zwin)s; };
actuators = { dry_run = true; };
"""


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def tshark(cap, display_filter, *fields):
    args = ["tshark", "-n", "-r", cap, "-o", "tcp.reassemble_out_of_order:TRUE",
            "-d", "tcp.port==9092,kafka", "-Y", display_filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    return [line.split("\t") for line in out.splitlines()]


def oracle(cap):
    """What tshark counts on the capture."""
    records = 0
    for (deltas,) in tshark(cap, "kafka.api_key==0 && tcp.dstport==9092",
                            "kafka.batch_last_offset_delta"):
        records += sum(int(d) + 1 for d in deltas.split(",") if d)
    to = len(tshark(cap, f"ip.dst=={KAFKA_SERVER} && tcp.dstport==9092", "frame.number"))
    frm = len(tshark(cap, f"ip.src=={KAFKA_SERVER} && tcp.srcport==9092", "frame.number"))
    retrans_ns = [ns(t) for (t,) in tshark(
        cap, f"ip.addr=={KAFKA_SERVER} && tcp.port==9092 && (tcp.analysis.retransmission || "
        "tcp.analysis.spurious_retransmission || tcp.analysis.fast_retransmission)",
        "frame.time_epoch")]
    retrans = len(retrans_ns)
    asked, pairs = {}, []
    for t, stream, corr, dport in tshark(cap, "kafka", "frame.time_epoch", "tcp.stream",
                                         "kafka.correlation_id", "tcp.dstport"):
        for c in corr.split(","):
            key = (stream, c)
            if dport == "9092":
                asked.setdefault(key, ns(t))
            elif key in asked:
                pairs.append((asked.pop(key), ns(t)))   # (request, response) ns
    lat_us = [(b - a) / 1e3 for a, b in pairs]
    publishes = len(tshark(cap, "mqtt.msgtype == 3 && tcp.dstport == 1883", "frame.number"))
    return {"records": records, "packets_to": to, "packets_from": frm, "retrans": retrans,
            "retrans_ns": retrans_ns,
            "lat_min_ms": min(lat_us) / 1e3, "lat_max_ms": max(lat_us) / 1e3,
            "latencies": len(lat_us), "pairs": pairs, "publishes": publishes}


def ns(text):
    """tshark's frame.time_epoch "S.FFFFFFFFF" as integer ns, exactly."""
    sec, _, frac = text.partition(".")
    return int(sec) * 10**9 + int((frac + "000000000")[:9])


def p99_range(pairs, start, length):
    """The values a p99 of the epoch [start, start + length) may be: the
    order statistics around rank 0.99 of its latencies (ms), a sample
    counted in the epoch of its request or of its response."""
    lo, hi = None, None
    for by in (0, 1):
        lat = sorted((b - a) / 1e6 for a, b in ((p[0], p[1]) for p in pairs)
                     if start <= (a, b)[by] < start + length)
        if not lat:
            continue
        n = len(lat)
        i0, i1 = int(0.99 * (n - 1)), min(n - 1, -(-99 * n // 100))
        lo = lat[i0] if lo is None else min(lo, lat[i0])
        hi = lat[i1] if hi is None else max(hi, lat[i1])
    return lo, hi


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def zero_windows(src, dst, every):
    """Copies the classic Ethernet/IPv4 pcap src to dst with the window of
    every `every`-th pure segment (ACK, no SYN/FIN/RST) from the Kafka
    server set to 0 and its TCP checksum made right again."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    off, seen, changed = 24, 0, 0
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        frame = off + 16
        if (caplen >= 54 and data[frame + 12:frame + 14] == b"\x08\x00" and
                data[frame + 23] == 6 and
                socket.inet_ntoa(bytes(data[frame + 26:frame + 30])) == KAFKA_SERVER):
            ip = frame + 14
            ihl = (data[ip] & 0x0F) * 4
            tcp = ip + ihl
            total = struct.unpack_from("!H", data, ip + 2)[0]
            flags = data[tcp + 13]
            if struct.unpack_from("!H", data, tcp)[0] == 9092 and flags & 0x10 and \
                    not flags & 0x07 and ip + total <= frame + caplen:
                seen += 1
                if seen % every == 0:
                    struct.pack_into("!HH", data, tcp + 14, 0, 0)   # window, checksum
                    seg = bytes(data[tcp:ip + total])
                    pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack("!BBH", 0, 6, len(seg))
                    struct.pack_into("!H", data, tcp + 16, csum16(pseudo + seg))
                    changed += 1
        off = frame + caplen
    with open(dst, "wb") as f:
        f.write(data)
    return changed


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ctl_json(sock, *args):
    r = subprocess.run([CTL, *args, "--json", "--socket", sock], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if not check(r.returncode == 0, f"shadowctl {' '.join(args)}: {r.stderr!r}"):
        return {}
    return json.loads(r.stdout)


def run(tmp, name, cap, latency_limit, retrans_limit="0.0", zwin_limit="0.0"):
    """shadowtap-cp and shadowtap-dp on the capture; the views at the end."""
    conf = os.path.join(tmp, name + ".conf")
    sock = os.path.join(tmp, name + ".sock")
    inst = "be%d%s" % (os.getpid(), name)
    port = free_port()
    with open(conf, "w") as f:
        f.write(CONFIG % {"latency": latency_limit, "retrans": retrans_limit,
                          "zwin": zwin_limit})
    cp = subprocess.Popen([CP, "--config", conf, "--instance", inst,
                           "--state-dir", os.path.join(tmp, name + ".state"), "--socket", sock,
                           "--prometheus", f"127.0.0.1:{port}"], stderr=subprocess.PIPE)
    out = {}
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--config", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        check(dp.returncode == 0, f"{name}: shadowtap-dp exit {dp.returncode}: {dp.stderr!r}")
        # until the control plane has read every record (no change for 2 s)
        last, still = None, 0
        while still < 10 and time.time() < deadline + 60:
            st = ctl_json(sock, "cp-status")
            now = (st.get("ring", {}).get("records"),
                   st.get("backend_metrics", {}).get("parsed"))
            still = still + 1 if now == last else 0
            last = now
            time.sleep(0.2)
        out["status"] = ctl_json(sock, "cp-status")
        out["backends"] = ctl_json(sock, "backends")
        out["decisions"] = ctl_json(sock, "decisions", "--count", "1024").get("decisions", [])
        r = subprocess.run([CTL, "backends", "--socket", sock], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        out["text"] = r.stdout.decode()
        check(r.returncode == 0 and "b0" in out["text"], f"{name}: shadowctl backends: "
              f"{r.returncode} {out['text']!r} {r.stderr!r}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            out["metrics"] = resp.read().decode()
    finally:
        cp.terminate()
        cp.wait(timeout=30)
        for suffix in ("", ".status"):
            if os.path.exists(f"/dev/shm/shadowtap-{inst}{suffix}"):
                os.unlink(f"/dev/shm/shadowtap-{inst}{suffix}")
    return out


def row(doc, name):
    return next((r for r in doc.get("backends", []) if r.get("name") == name), {})


def prom(text, family, backend):
    m = re.search(r'^%s\{backend="%s",pool="ingest"\} (\S+)$' % (family, backend), text,
                  re.MULTILINE)
    return float(m.group(1)) if m else None


def reactive_latency(decisions, metric="latency p99 ms"):
    """The scale_up decisions whose reasons name the metric's limit."""
    ups = []
    for d in decisions:
        for r in d.get("reasons", []):
            m = re.search(re.escape(metric) + r" ([0-9.]+) over ([0-9.]+)", r.get("text", ""))
            if d.get("kind") == "scale_up" and r.get("trigger") == "reactive" and m:
                ups.append((d, float(m.group(1)), float(m.group(2))))
    return ups


def main():
    if not shutil.which("tshark"):
        check(False, "tshark is not installed")
        return 1
    with tempfile.TemporaryDirectory(prefix="st-be-") as tmp:
        cap = os.path.join(tmp, "be.pcap")
        subprocess.run([GEN, "-q", "-o", cap, "-d", "8s", "--seed", "11",
                        "--stream", "kafka:orders,rate=400,keys=100,partitions=2,version=8,acks=1,"
                        "dup=0.02",
                        "--stream", "mqtt:sensors/t,rate=50,qos=1"], check=True)
        want = oracle(cap)
        print(f"tshark: {want['records']} Kafka records, {want['packets_to']} frames to and "
              f"{want['packets_from']} from {KAFKA_SERVER}:9092 ({want['retrans']} "
              f"retransmissions), {want['latencies']} "
              f"request->response latencies {want['lat_min_ms']:.3f}..{want['lat_max_ms']:.3f} "
              f"ms, {want['publishes']} MQTT PUBLISH frames")
        check(want["records"] > 0 and want["latencies"] > 0, f"tshark found nothing: {want}")
        lo, hi = want["lat_min_ms"] * 0.99 - 0.001, want["lat_max_ms"] * 1.01 + 0.001

        a = run(tmp, "off", cap, "0.0")
        bm = a.get("status", {}).get("backend_metrics", {})
        check(bm.get("parsed", 0) > 0 and bm.get("bad") == 0,
              f"off: Backend Metrics records parsed/bad: {bm}")
        b0, b1 = row(a["backends"], "b0"), row(a["backends"], "b1")
        t0 = b0.get("totals", {})
        check(t0.get("records") == want["records"],
              f"off: b0 records {t0.get('records')} != tshark {want['records']}")
        check(t0.get("packets_to") == want["packets_to"] and
              t0.get("packets_from") == want["packets_from"],
              f"off: b0 packets {t0.get('packets_to')}/{t0.get('packets_from')} != tshark "
              f"{want['packets_to']}/{want['packets_from']}")
        check(t0.get("packets") == want["packets_to"] + want["packets_from"],
              f"off: b0 packets total {t0.get('packets')}")
        check(t0.get("retransmissions") == want["retrans"] > 0,
              f"off: b0 retransmissions {t0.get('retransmissions')} != tshark {want['retrans']}")
        p99 = b0.get("latest", {}).get("latency_p99_ms")
        check(p99 is not None and lo <= p99 <= hi,
              f"off: b0 latest p99 {p99} ms outside tshark's {lo:.3f}..{hi:.3f}")
        # the latest epoch's p99 against tshark's on the same epoch, within
        # the sketch's 1 % (and the capture's 1 us stamps)
        ep = a["backends"].get("epoch") or {}
        e_lo, e_hi = p99_range(want["pairs"], ep.get("epoch_start_ns", 0), ep.get("epoch_ns", 0))
        check(p99 is not None and e_lo is not None and
              e_lo * 0.99 - 0.001 <= p99 <= e_hi * 1.01 + 0.001,
              f"off: b0 latest p99 {p99} ms, tshark's p99 of that epoch {e_lo}..{e_hi} ms")
        check(b1.get("address") == "10.0.0.11" and b1.get("totals", {}).get("records") == 0 and
              b1.get("totals", {}).get("packets") == 0 and
              b1.get("latest", {}).get("latency_p99_ms") is None,
              f"off: b1 (no traffic) shows {b1}")
        un = a["backends"].get("unmatched", [])
        check(any(u.get("address") == MQTT_SERVER and u.get("port") == 1883 and
                  u.get("protocol") == "mqtt" for u in un),
              f"off: the MQTT endpoint is not among the unmatched: {un}")
        check(prom(a["metrics"], "shadowtap_backend_records_total", "b0") == want["records"],
              "off: Prometheus shadowtap_backend_records_total{backend=\"b0\"} "
              f"{prom(a['metrics'], 'shadowtap_backend_records_total', 'b0')}")
        check(prom(a["metrics"], "shadowtap_backend_packets_total", "b0") ==
              want["packets_to"] + want["packets_from"], "off: Prometheus packets_total of b0")
        check(prom(a["metrics"], "shadowtap_backend_records_per_second", "b1") == 0,
              "off: Prometheus records_per_second of b1")
        check(not reactive_latency(a["decisions"]) and
              not reactive_latency(a["decisions"], "retransmissions/s"),
              f"off: a reactive decision with the limits off: {a['decisions']}")
        print(f"off: b0 records {t0.get('records')}, packets {t0.get('packets_to')} to / "
              f"{t0.get('packets_from')} from, retransmissions {t0.get('retransmissions')}, "
              f"latest p99 {p99} ms (tshark {e_lo}..{e_hi}); "
              "unmatched "
              f"{[(u.get('address'), u.get('port')) for u in un]}; "
              f"{len(a['decisions'])} decisions, none on a reactive limit")

        b = run(tmp, "limit", cap, "0.1")
        ups = reactive_latency(b["decisions"])
        check(ups, "limit: no scale_up names the latency: "
              f"{[(d.get('kind'), d.get('reasons')) for d in b['decisions']]}")
        if ups:
            d, value, limit = ups[0]
            check(d.get("backend") == "b1" and d.get("result") == "dry_run" and
                  "reactive" in d.get("triggers", []),
                  f"limit: the decision {d.get('backend')} {d.get('result')} {d.get('triggers')}")
            # the reason prints one decimal of the judged epoch's p99, the
            # epoch that ends where the decision's clock stands
            length = (b["backends"].get("epoch") or {}).get("epoch_ns", 0)
            j_lo, j_hi = p99_range(want["pairs"], d.get("data_time_ns", 0) - length, length)
            check(limit == 0.1 and j_lo is not None and
                  j_lo * 0.99 - 0.05 <= value <= j_hi * 1.01 + 0.05,
                  f"limit: reason value {value} over {limit}, tshark's p99 of the judged "
                  f"epoch {j_lo}..{j_hi}")
            check(d.get("inputs", {}).get("worst_latency_p99_ms") is not None,
                  f"limit: decision inputs {d.get('inputs')}")
            print(f"limit: scale_up of {d.get('backend')} ({d.get('result')}): "
                  f"{'; '.join(r['text'] for r in d['reasons'])}")

        # Run C: retransmissions/s over 1: the reason's value is the judged
        # epoch's retransmissions as tshark flags them, per second
        c = run(tmp, "retrans", cap, "0.0", "1.0")
        ups = reactive_latency(c["decisions"], "retransmissions/s")
        check(ups and not reactive_latency(c["decisions"]),
              "retrans: no scale_up names retransmissions/s alone: "
              f"{[(d.get('kind'), d.get('reasons')) for d in c['decisions']]}")
        if ups:
            d, value, limit = ups[0]
            length = (c["backends"].get("epoch") or {}).get("epoch_ns", 1)
            end = d.get("data_time_ns", 0)
            n = sum(1 for t in want["retrans_ns"] if end - length <= t < end)
            expect = round(n / (length / 1e9), 1)
            check(d.get("backend") == "b1" and limit == 1.0 and value == expect,
                  f"retrans: {d.get('backend')}: reason value {value} over {limit}, tshark "
                  f"{n} retransmissions in the judged epoch = {expect}/s")
            print(f"retrans: scale_up of {d.get('backend')}: "
                  f"{'; '.join(r['text'] for r in d['reasons'])} (tshark: {n} in that epoch)")

        # Run D: the same capture with a zero window in every 20th pure
        # segment from the server; zero windows/s over 1
        zcap = os.path.join(tmp, "zwin.pcap")
        changed = zero_windows(cap, zcap, 20)
        zw_ns = [ns(t) for (t,) in tshark(zcap, f"ip.src=={KAFKA_SERVER} && tcp.srcport==9092 "
                                          "&& tcp.analysis.zero_window", "frame.time_epoch")]
        check(len(zw_ns) == changed > 0,
              f"zwin: tshark flags {len(zw_ns)} zero windows, {changed} written")
        z = run(tmp, "zwin", zcap, "0.0", "0.0", "1.0")
        zt = row(z["backends"], "b0").get("totals", {})
        check(zt.get("zero_windows_from") == len(zw_ns),
              f"zwin: b0 zero windows {zt.get('zero_windows_from')} != tshark {len(zw_ns)}")
        ups = reactive_latency(z["decisions"], "zero windows/s")
        check(ups, "zwin: no scale_up names zero windows/s: "
              f"{[(d.get('kind'), d.get('reasons')) for d in z['decisions']]}")
        if ups:
            d, value, limit = ups[0]
            length = (z["backends"].get("epoch") or {}).get("epoch_ns", 1)
            end = d.get("data_time_ns", 0)
            n = sum(1 for t in zw_ns if end - length <= t < end)
            expect = round(n / (length / 1e9), 1)
            check(d.get("backend") == "b1" and limit == 1.0 and value == expect,
                  f"zwin: {d.get('backend')}: reason value {value} over {limit}, tshark "
                  f"{n} zero windows in the judged epoch = {expect}/s")
            print(f"zwin: b0 zero windows {zt.get('zero_windows_from')} (tshark {len(zw_ns)}); "
                  f"scale_up of {d.get('backend')}: "
                  f"{'; '.join(r['text'] for r in d['reasons'])} (tshark: {n} in that epoch)")

    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
