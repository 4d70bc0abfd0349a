#!/usr/bin/env python3
"""Predictive signals end to end: shadowtap-gen -> shadowtap-dp -> ring ->
shadowtap-cp -> its event log, on the issue's five scenarios.

Every scenario runs in trace time (the capture's timestamps; 1 s epochs),
so the figures are the same on any machine.  Oracles: the generator's
exact ground truth (per-epoch records, distinct keys, top keys, schema) and
the change times asked of it; nothing is taken from the control plane's
own code.

  (a) rate surge: a stream shaped by NAB's nyc_taxi trace (30-minute rows
      compressed to 6 s), capacity 500 records/s in the config.  A signal
      with cause "capacity" comes before the first epoch whose true rate
      (the truth's records) passes the capacity; the lead time is printed.
  (b) cardinality explosion: 100 keys, then 20000 from t = 200 s: a signal
      with cause "cardinality" within 3 epochs of the first epoch that
      holds the change.
  (c) hot key: 100 uniform keys (top-1 share about 1-2%), then 30% of the
      records on one key from t = 200 s: cause "skew" within 3 epochs.
  (d) schema: a field added (nats:schema.add) and a field's type changed
      (nats:schema.type) at t = 200 s: cause "schema" within 3 epochs.
      (Every other stream in the run is a bystander: none of (b)-(d) may
      signal before its change above low severity.)
  (e) a stationary stream for an hour of trace time (3600 epochs): no
      signal above low severity.

A profile of an epoch the capture cuts short (its last) says nothing about
the stream: signals from the last two epochs of a capture are not judged.

Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP, SHADOWTAP_CP,
SHADOWCTL, SHADOWTAP_SHARED_DATA.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]
DATA = os.environ.get("SHADOWTAP_SHARED_DATA",
                      os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
TAXI = os.path.join(DATA, "traces", "nab", "realKnownCause", "nyc_taxi.csv")

SEVERITY = {"none": 0, "low": 1, "medium": 2, "high": 3}
CHANGE_S = 200
CAPACITY = 500
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


CONFIG = """
defaults = { key_fields = [ "/user/id" ]; };
streams = { rules = (
    { name = "surge"; protocol = "kafka"; match = "surge"; criticality = "high";
      capacity_rps = %d.0; }
); };
detectors = { season_s = 0; forecast_horizon_s = 60; };
"""


def run_case(tmp, name, gen_args, config):
    """Generates the capture, runs cp then dp on it, waits until cp has
    taken every profile; returns (truth, signals, cp status)."""
    cap = os.path.join(tmp, name + ".pcap")
    conf = os.path.join(tmp, name + ".conf")
    state = os.path.join(tmp, name + ".state")
    sock = os.path.join(tmp, name + ".sock")
    events = os.path.join(tmp, name + ".events.jsonl")
    inst = "scen%d%s" % (os.getpid(), name)
    with open(conf, "w") as f:
        f.write(config)
    subprocess.run([GEN, "-q", "-o", cap, *gen_args], check=True)
    with open(cap + ".truth.json") as f:
        truth = json.load(f)
    cp = subprocess.Popen([CP, "--config", conf, "--instance", inst, "--state-dir", state,
                           "--socket", sock, "--prometheus", "off", "--event-log", events],
                          stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        # a socket subscriber: every signal must reach it as it reaches the log
        follower = subprocess.Popen([CTL, "signals", "--follow", "--json", "--socket", sock],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.3)
        dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--config", conf,
                             "--ring-mib", "256"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=600)
        check(dp.returncode == 0, f"{name}: shadowtap-dp exit {dp.returncode}: {dp.stderr[-400:]!r}")
        # cp has taken everything once its count stops moving
        last, still, status = -1, 0, {}
        deadline = time.time() + 300
        while time.time() < deadline and still < 10:
            r = subprocess.run([CTL, "cp-status", "--json", "--socket", sock],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            status = json.loads(r.stdout) if r.returncode == 0 else {}
            n = status.get("profiles", {}).get("parsed", -1) if status else -1
            still = still + 1 if n == last else 0
            last = n
            time.sleep(0.2)
        follower.terminate()
        out, _ = follower.communicate(timeout=30)
    finally:
        cp.terminate()
        cp.wait(timeout=30)
        for suffix in ("", ".status"):  # the data plane's ring and status page
            if os.path.exists(f"/dev/shm/shadowtap-{inst}{suffix}"):
                os.unlink(f"/dev/shm/shadowtap-{inst}{suffix}")
    pushed = []
    for line in out.decode().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # the opening list of recent signals, pretty-printed
        if isinstance(ev, dict) and ev.get("event") == "signal":
            pushed.append(ev)
    signals = []
    with open(events) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event") == "signal":
                signals.append(ev)
    check([(x["stream"], x["epoch_start_ns"], x["severity"]) for x in pushed] ==
          [(x["stream"], x["epoch_start_ns"], x["severity"]) for x in signals],
          f"{name}: the subscriber got {len(pushed)} signals, the event log {len(signals)}")
    print(f"{name}: {len(pushed)} signals pushed to `shadowctl signals --follow`, "
          f"{len(signals)} in the event log")
    return truth, signals, status


def epoch_of(truth, sig):
    return (sig["epoch_start_ns"] - truth["start_ns"]) // truth["epoch_ns"]


def stream_truth(truth, name):
    for s in truth["streams"]:
        if s["name"] == name:
            return s
    raise KeyError(name)


def first_change_epoch(truth, name):
    """The first epoch holding records created at or after CHANGE_S: the
    epoch of the change time (the generator stamps records at creation)."""
    return CHANGE_S * 1000000000 // truth["epoch_ns"]


def judge_change(truth, signals, stream, cause, n_epochs):
    change = first_change_epoch(truth, stream)
    mine = [s for s in signals if s["stream"] == stream and epoch_of(truth, s) < n_epochs - 2]
    early = [s for s in mine if epoch_of(truth, s) < change and SEVERITY[s["severity"]] > 1]
    hits = [s for s in mine if change <= epoch_of(truth, s) <= change + 3 and cause in s["causes"]]
    check(not early, f"{stream}: signals above low before the change: "
          f"{[(epoch_of(truth, s), s['severity'], s['causes']) for s in early]}")
    if check(hits, f"{stream}: no '{cause}' signal within 3 epochs of epoch {change}: "
             f"{[(epoch_of(truth, s), s['severity'], s['causes']) for s in mine]}"):
        h = hits[0]
        print(f"  {stream:24s} change at epoch {change}: signalled at epoch "
              f"{epoch_of(truth, h)} (+{epoch_of(truth, h) - change}), {h['severity']}, "
              f"score {h['score']:.2f}, causes {h['causes']}, detectors {h['detectors']}")


def scenarios_a_to_d(tmp):
    gen = ["-d", "300s", "--seed", "7",
           "--stream", f"kafka:surge,shape=trace:{TAXI},peak=1000,keys=1000",
           "--stream", f"kafka:explode,rate=300,keys=100,explode=20000@{CHANGE_S}s",
           "--stream", f"mqtt:hot,rate=1000,keys=100,hot=0.3@{CHANGE_S}s",
           "--stream", f"nats:schema.add,rate=200,schema=+extra:string@{CHANGE_S}s",
           "--stream", f"nats:schema.type,rate=200,schema=amount:string@{CHANGE_S}s"]
    truth, signals, status = run_case(tmp, "ad", gen, CONFIG % CAPACITY)
    n_epochs = truth["epochs"]
    print(f"(a)-(d): {n_epochs} epochs, {len(signals)} signals, "
          f"cp parsed {status.get('profiles', {}).get('parsed')} profiles")
    # (a) the surge
    surge = stream_truth(truth, "kafka:surge")
    rates = [e["records"] * 1e9 / truth["epoch_ns"] for e in surge["epochs"]]
    crossing = next((i for i, r in enumerate(rates) if r > CAPACITY), None)
    if check(crossing is not None, "(a): the trace never passes the capacity"):
        # the config's rule names the stream "surge"
        cap_sigs = [s for s in signals if s["stream"] == "surge" and "capacity" in s["causes"]]
        before = [s for s in cap_sigs if epoch_of(truth, s) < crossing]
        if check(before, f"(a): no capacity signal before epoch {crossing}: "
                 f"{[(epoch_of(truth, s), s['horizon_s']) for s in cap_sigs]}"):
            # the lead of the signal that opened the approach: the first
            # capacity signal after the last epoch the rate was below half
            # the capacity (an earlier forecast of another rise is not
            # this surge's warning)
            calm = max((i for i in range(crossing) if rates[i] < CAPACITY / 2), default=0)
            warn = [x for x in before if epoch_of(truth, x) > calm] or before
            s = warn[0]
            lead = crossing - epoch_of(truth, s)
            print(f"  (a) kafka:surge crosses {CAPACITY} rec/s at epoch {crossing} "
                  f"({rates[crossing]:.0f} rec/s); signalled at epoch {epoch_of(truth, s)} "
                  f"({s['severity']}, horizon {s['horizon_s']:.1f} s): lead time {lead} s")
            check(lead >= 1, f"(a): lead time {lead}")
    judge_change(truth, signals, "kafka:explode", "cardinality", n_epochs)
    judge_change(truth, signals, "mqtt:hot", "skew", n_epochs)
    judge_change(truth, signals, "nats:schema.add", "schema", n_epochs)
    judge_change(truth, signals, "nats:schema.type", "schema", n_epochs)
    # the oracle's view of (c): top-1 share before and after
    hot = stream_truth(truth, "mqtt:hot")
    pre = hot["epochs"][CHANGE_S - 5]
    post = hot["epochs"][CHANGE_S + 5]
    print(f"  (c) mqtt:hot top-1 share {pre['top_keys'][0]['count'] / pre['records']:.3f} -> "
          f"{post['top_keys'][0]['count'] / post['records']:.3f} (truth)")


def scenario_e(tmp):
    gen = ["-d", "1h", "--seed", "11",
           "--stream", "jsonl:udp:5140,rate=50,keys=500,zipf=0.8"]
    truth, signals, status = run_case(tmp, "e", gen, CONFIG % CAPACITY)
    n_epochs = truth["epochs"]
    judged = [s for s in signals if epoch_of(truth, s) < n_epochs - 2]
    above = [s for s in judged if SEVERITY[s["severity"]] > 1]
    by_sev = {}
    for s in judged:
        by_sev[s["severity"]] = by_sev.get(s["severity"], 0) + 1
    print(f"(e): {n_epochs} epochs of a stationary stream, cp parsed "
          f"{status.get('profiles', {}).get('parsed')} profiles; signals by severity {by_sev}")
    check(status.get("profiles", {}).get("parsed", 0) >= n_epochs - 1,
          f"(e): cp parsed {status.get('profiles')} of {n_epochs} epochs")
    check(not above, f"(e): signals above low: "
          f"{[(epoch_of(truth, s), s['severity'], s['causes'], s['detectors'], round(s['score'], 3), s['model_version']) for s in above]}")


def main():
    with tempfile.TemporaryDirectory(prefix="st-scen-") as tmp:
        scenarios_a_to_d(tmp)
        scenario_e(tmp)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("scenarios: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
