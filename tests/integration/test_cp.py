#!/usr/bin/env python3
"""The control plane end to end: shadowtap-dp -> ring -> shadowtap-cp ->
its control socket (shadowctl) and its Prometheus endpoint.

Oracles: the generator's exact ground truth (records per stream and epoch),
the protocol's byte layout written out here from include/shadowtap/ctl.h,
the Prometheus text format 0.0.4 grammar, the file system (socket mode).

1. shadowtap-cp starts before the data plane and waits for its ring; the
   socket is 0660; a second shadowtap-cp on the same socket refuses.
2. shadowtap-dp reads a generator capture: `shadowctl streams --json` lists
   exactly the generator's streams, and each stream's records summed over
   every epoch equal the truth; `shadowctl profile` shows the stream's last
   epoch with that epoch's records.
3. shadowtap-dp killed and restarted: shadowtap-cp sees the new producer
   (a new generation) and reads on.
4. SIGHUP with a broken config: shadowtap-cp keeps running and reports
   file:line on stderr, in the event log and in cp-status.
5. GET /metrics answers a parseable exposition with the truth's records.
6. Hostile clients: garbage, another version, a huge length, a half-sent
   request: an ERROR frame (or a close), and the daemon lives.
7. SIGTERM: exit 0, the socket removed.

Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP, SHADOWTAP_CP,
SHADOWCTL.
"""
import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]

failures = []
MAGIC = 0x50435453  # "STCP"
HDR = struct.Struct("<IHHIIQ")
TYPE_ERROR = 0x7FFF


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def ctl(sock, *args):
    r = subprocess.run([CTL, *args, "--socket", sock], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def ctl_json(sock, *args):
    rc, out, err = ctl(sock, *args, "--json")
    if not check(rc == 0, f"shadowctl {' '.join(args)}: exit {rc}, {err!r}"):
        return {}
    return json.loads(out)


def wait_for(pred, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raw_exchange(path, data, read_timeout=5.0):
    """Sends bytes on a fresh connection; returns the messages read until
    the server closes or goes quiet: [(type, flags, id, body)]."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(read_timeout)
    s.connect(path)
    s.sendall(data)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) >= 24:
                n = HDR.unpack_from(buf)[4]
                if len(buf) >= 24 + n:
                    break
    except socket.timeout:
        pass
    s.close()
    msgs = []
    while len(buf) >= 24:
        magic, ver, typ, flags, n, rid = HDR.unpack_from(buf)
        body = buf[24:24 + n]
        msgs.append((magic, ver, typ, flags, rid, json.loads(body) if body else None))
        buf = buf[24 + n:]
    return msgs


def frame(typ, body=b"", rid=1, ver=1, flags=0, length=None):
    return HDR.pack(MAGIC, ver, typ, flags, len(body) if length is None else length, rid) + body


def check_hostile(sock, cp):
    # garbage (an HTTP request to the wrong socket): error, then closed
    m = raw_exchange(sock, b"GET / HTTP/1.0\r\n\r\n" + b"x" * 100)
    check(len(m) == 1 and m[0][2] == TYPE_ERROR and "magic" in m[0][5]["error"],
          f"garbage: {m}")
    # another version: error naming ours
    m = raw_exchange(sock, frame(1, ver=9, rid=77))
    check(len(m) == 1 and m[0][1] == 1 and m[0][2] == TYPE_ERROR and m[0][4] == 77
          and m[0][5]["errno"] == "EPROTONOSUPPORT", f"version 9: {m}")
    # a huge announced length: refused at once, nothing waited for
    m = raw_exchange(sock, frame(1, length=1 << 30, rid=5))
    check(len(m) == 1 and m[0][5]["errno"] == "EMSGSIZE", f"huge length: {m}")
    # 4097 bytes: one past the limit
    m = raw_exchange(sock, frame(1, b" " * 4097))
    check(len(m) == 1 and m[0][5]["errno"] == "EMSGSIZE", f"4097-byte body: {m}")
    # an unknown type and bad JSON keep the connection usable: three answers
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(frame(99, rid=1) + frame(3, b"{not json", rid=2) + frame(1, rid=3))
    buf = b""
    got = []
    try:
        while len(got) < 3:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 24 and len(buf) >= 24 + HDR.unpack_from(buf)[4]:
                h = HDR.unpack_from(buf)
                got.append((h[2], h[5], json.loads(buf[24:24 + h[4]])))
                buf = buf[24 + h[4]:]
    except socket.timeout:
        pass
    s.close()
    check([(t, i) for t, i, _ in got] == [(TYPE_ERROR, 1), (TYPE_ERROR, 2), (1, 3)]
          and got[2][2].get("version"), f"pipelined unknown type, bad JSON, status: "
          f"{[(t, i) for t, i, _ in got]}")
    # a half-sent request and many idle connections: the daemon answers others
    idle = []
    for _ in range(70):  # more than the 64-connection limit
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            s.sendall(frame(1)[:10])
        except OSError:
            pass
        idle.append(s)
    time.sleep(0.3)
    for s in idle:
        s.close()
    time.sleep(0.3)
    rc, out, err = ctl(sock, "cp-status")
    check(rc == 0 and cp.poll() is None, f"after hostile clients: exit {rc}, {err!r}, "
          f"daemon {'alive' if cp.poll() is None else 'dead'}")
    st = ctl_json(sock, "cp-status")
    cl = st.get("clients", {})
    check(cl.get("refused", 0) >= 6 and cl.get("bad_requests", 0) >= 6,
          f"client counters: {cl}")
    print(f"hostile clients: answered with errors; counters {cl}")


def check_metrics(port, truth):
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    check(ctype.startswith("text/plain; version=0.0.4"), f"metrics content type {ctype!r}")
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})?'
                        r' [-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|Inf)$')
    bad = [l for l in text.splitlines()
           if not (l.startswith("# HELP ") or l.startswith("# TYPE ") or sample.match(l))]
    check(not bad, f"metrics: lines outside the text format: {bad[:3]}")
    types = {}
    for l in text.splitlines():
        if l.startswith("# TYPE "):
            _, _, name, typ = l.split(" ")
            check(name not in types, f"metrics: {name} typed twice")
            types[name] = typ
    values = {}
    for l in text.splitlines():
        if not l.startswith("#"):
            key, v = l.rsplit(" ", 1)
            values[key] = float(v)
    for s in truth["streams"]:
        proto = s["name"].split(":")[0]
        key = f'shadowtap_stream_records_total{{stream="{s["name"]}",protocol="{proto}"}}'
        check(values.get(key) == s["records"], f"metrics: {key} = {values.get(key)}, "
              f"truth {s['records']}")
    check(values.get("shadowtap_cp_streams") == len(truth["streams"]),
          f"metrics: streams {values.get('shadowtap_cp_streams')}")
    check(types.get("shadowtap_signals_total") == "counter" and
          'shadowtap_signals_total{severity="high"}' in values, "metrics: signals counter")
    for name in ("shadowtap_stream_records_per_second", "shadowtap_stream_cardinality",
                 "shadowtap_stream_top1_share", "shadowtap_stream_anomaly_score",
                 "shadowtap_stream_severity", "shadowtap_ring_records_total"):
        check(name in types, f"metrics: no {name}")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
        check(False, "metrics: /other answered 200")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"metrics: /other {e.code}")
    print(f"metrics: {len(text.splitlines())} lines, {len(types)} families, parseable")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        inst = f"cp{os.getpid()}"
        sock = os.path.join(tmp, "cp.sock")
        conf = os.path.join(tmp, "good.conf")
        events = os.path.join(tmp, "state", "events.jsonl")
        port = free_port()
        with open(conf, "w") as f:
            f.write("# a valid file\ndefaults = {\n\thll_precision = 12;\n};\n")

        rc, _, err = ctl(sock, "cp-status")
        check(rc == 1 and "is shadowtap-cp running" in err, f"no daemon: exit {rc}, {err!r}")
        r = subprocess.run([CP, "--help"], stdout=subprocess.PIPE)
        check(r.returncode == 0 and b"--prometheus" in r.stdout, "shadowtap-cp --help")

        cap = os.path.join(tmp, "cp.pcap")
        subprocess.run([GEN, "-q", "-o", cap, "--seed", "5", "--duration", "6s",
                        "--stream", "kafka:orders,rate=3000,keys=5000,partitions=4,batch=10",
                        "--stream", "mqtt:sensors/temp,version=5,rate=1500,keys=800",
                        "--stream", "jsonl:udp:5140,rate=1000,keys=300"], check=True)
        truth = json.load(open(cap + ".truth.json"))

        cperr = open(os.path.join(tmp, "cp.stderr"), "w+")
        cp = subprocess.Popen([CP, "--config", conf, "--instance", inst,
                               "--state-dir", os.path.join(tmp, "state"), "--socket", sock,
                               "--prometheus", f"127.0.0.1:{port}", "--foreground"],
                              stderr=cperr)
        try:
            check(wait_for(lambda: os.path.exists(sock), 10), "socket did not appear")
            mode = stat.S_IMODE(os.stat(sock).st_mode)
            check(mode == 0o660 and stat.S_ISSOCK(os.stat(sock).st_mode),
                  f"socket mode {oct(mode)}")
            # every thread keeps CAP_NET_ADMIN (12) and CAP_BPF (39) only
            # (the kernel's capability numbers, linux/capability.h)
            want = (1 << 12) | (1 << 39)
            for task in os.listdir(f"/proc/{cp.pid}/task"):
                with open(f"/proc/{cp.pid}/task/{task}/status") as f:
                    caps = dict(l.split(":\t") for l in f.read().splitlines() if l.startswith("Cap"))
                check(all(int(caps[k], 16) == want for k in ("CapEff", "CapPrm", "CapBnd"))
                      and int(caps["CapInh"], 16) == 0,
                      f"thread {task} capabilities {caps}")
            st = ctl_json(sock, "cp-status")
            check(st.get("ring", {}).get("attached") is False, "attached before any ring")

            second = subprocess.run([CP, "--instance", inst + "b", "--state-dir",
                                     os.path.join(tmp, "state2"), "--socket", sock,
                                     "--prometheus", "off"],
                                    stderr=subprocess.PIPE, timeout=30)
            check(second.returncode == 1 and b"another shadowtap-cp" in second.stderr,
                  f"second cp: exit {second.returncode}, {second.stderr!r}")
            check(os.path.exists(sock) and ctl(sock, "cp-status")[0] == 0,
                  "the first cp lost its socket to the second")

            dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--key", "/user/id"],
                                stdout=subprocess.DEVNULL, timeout=300)
            check(dp.returncode == 0, f"shadowtap-dp exit {dp.returncode}")
            want = {s["name"]: s["records"] for s in truth["streams"]}

            def totals():
                rows = ctl_json(sock, "streams").get("streams", [])
                got = {r["name"]: r["records_total"] for r in rows}
                return got if got == want else None
            got = wait_for(totals, 30, 0.3)
            rows = ctl_json(sock, "streams").get("streams", [])
            check(got == want, f"streams: {[(r['name'], r['records_total']) for r in rows]} "
                  f"!= truth {want}")
            print(f"streams: {sorted(want)}, records {want} exact")

            for s in truth["streams"]:
                p = ctl_json(sock, "profile", s["name"])
                last = max((e for e in s["epochs"] if e["records"]), key=lambda e: e["start_ns"])
                check(p.get("epoch_start_ns", 0) >= last["start_ns"],
                      f"profile {s['name']}: epoch {p.get('epoch_start_ns')} before the last "
                      f"epoch with records {last['start_ns']}")
                if p.get("epoch_start_ns") == last["start_ns"]:
                    check(p["counters"]["records"] == last["records"],
                          f"profile {s['name']}: {p['counters']['records']} records in the "
                          f"last epoch, truth {last['records']}")
                check(p.get("analysis", {}).get("records_total") == s["records"],
                      f"profile {s['name']}: analysis {p.get('analysis')}")
            rc, out, _ = ctl(sock, "profile", "kafka:orders")
            check(rc == 0 and "kafka:orders (kafka)" in out, f"profile text: {out!r}")
            rc, _, err = ctl(sock, "profile", "nobody")
            check(rc == 1 and "no stream named" in err, f"unknown stream: {rc} {err!r}")
            rc, out, _ = ctl(sock, "top", "--once")
            check(rc == 0 and "kafka:orders" in out and "\033[" not in out
                  and any(ch in out for ch in "▁▂▃▄▅▆▇█"), f"top --once: {out!r}")
            sig = ctl_json(sock, "signals")
            check(sig.get("signals") == [], f"signals: {sig}")
            # a few epochs are too few rows for a forest: asked, it says why
            rc, out, _ = ctl(sock, "models", "--retrain")
            check(rc == 0, f"models --retrain: {rc} {out!r}")
            m = wait_for(lambda: (lambda b: b if b.get("models") and
                                  b["models"][0]["failures"] >= 1 else None)(
                ctl_json(sock, "models")), 10) or {}
            mm = (m.get("models") or [{}])[0]
            check(m.get("available") is False and mm.get("version") == 0 and
                  "fewer than" in mm.get("last_error", ""), f"models: {m}")

            st = ctl_json(sock, "cp-status")
            gen1 = st["ring"]["generation"]
            # the ring carries the profiles and one Backend Metrics record
            # per epoch (shadowtap/backends.h), counted apart by the cp
            bm = st.get("backend_metrics", {})
            check(st["ring"]["attached"] and st["profiles"]["bad"] == 0 and
                  bm.get("bad") == 0 and bm.get("parsed", 0) > 0 and
                  st["profiles"]["parsed"] + bm["parsed"] == st["ring"]["records"] > 0,
                  f"status after the run: {st.get('ring')} {st.get('profiles')} {bm}")

            # the data plane killed mid-run, then run again
            dp = subprocess.Popen([DP, "--instance", inst, "--pcap", cap, "--key", "/user/id"],
                                  stdout=subprocess.DEVNULL)
            time.sleep(0.2)
            dp.send_signal(signal.SIGKILL)
            dp.wait()
            dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--key", "/user/id"],
                                stdout=subprocess.DEVNULL, timeout=300)
            check(dp.returncode == 0, f"restarted shadowtap-dp exit {dp.returncode}")
            st = wait_for(lambda: (lambda s: s if s.get("ring", {}).get("generation_changes", 0)
                                   >= 1 else None)(ctl_json(sock, "cp-status")), 10)
            st = st or ctl_json(sock, "cp-status")
            ring = st.get("ring", {})
            check(ring.get("attached") and ring.get("generation", 0) >= gen1 + 2 and
                  ring.get("generation_changes", 0) >= 1,
                  f"after the data-plane restarts: {ring}")
            print(f"data plane restarted: generation {gen1} -> {ring.get('generation')}, "
                  f"{ring.get('generation_changes')} changes seen")

            # SIGHUP with a broken file
            with open(conf, "w") as f:
                f.write("defaults = {\n\thll_precision = 12;\n\tnonsense = ;\n};\n")
            cp.send_signal(signal.SIGHUP)
            st = wait_for(lambda: (lambda s: s if s.get("config", {}).get("reloads") else None)(
                ctl_json(sock, "cp-status")), 10)
            last = (st or {}).get("config", {}).get("last_reload") or {}
            check(cp.poll() is None and last.get("ok") is False and
                  f"{conf}:3:" in last.get("error", ""), f"SIGHUP broken: {last}")
            cperr.flush()
            cperr.seek(0)
            check(f"{conf}:3:" in cperr.read(), "SIGHUP broken: no file:line on stderr")
            logged = [json.loads(l) for l in open(events)]
            check(any(e.get("event") == "config_reload" and not e["ok"] and
                      f"{conf}:3:" in e["error"] for e in logged),
                  "SIGHUP broken: no file:line in the event log")
            check(st and st.get("config", {}).get("source") == conf, "config source changed")
            print(f"SIGHUP with a broken file: kept running, said {last.get('error')!r}")

            check_metrics(port, truth_after_restart(sock, truth))
            check_hostile(sock, cp)

            cp.send_signal(signal.SIGTERM)
            cp.wait(timeout=30)
            check(cp.returncode == 0, f"shadowtap-cp exit {cp.returncode} after SIGTERM")
            check(not os.path.exists(sock), "socket left behind after SIGTERM")
        finally:
            if cp.poll() is None:
                cp.kill()
            if os.path.exists(f"/dev/shm/shadowtap-{inst}"):
                os.unlink(f"/dev/shm/shadowtap-{inst}")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all checks passed")
    return 0


def truth_after_restart(sock, truth):
    """After the restarts the daemon has read the first run whole, part of the
    killed one, and the second whole: the metrics must equal what `streams`
    says (the truth's names, counts at least twice the truth's)."""
    rows = {r["name"]: r["records_total"] for r in ctl_json(sock, "streams")["streams"]}
    for s in truth["streams"]:
        check(rows.get(s["name"], 0) >= 2 * s["records"],
              f"{s['name']}: {rows.get(s['name'])} records after two full runs")
    return {"streams": [{"name": n, "records": v} for n, v in rows.items()]}


if __name__ == "__main__":
    sys.exit(main())
