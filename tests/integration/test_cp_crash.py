#!/usr/bin/env python3
"""shadowtap-cp killed with SIGKILL while it writes its feature history,
three times during one run, and restarted each time: the store opens
consistent and keeps its history.

Oracles, from outside the store's code:
  - the generator's ground truth: the (stream, epoch) pairs that carry
    records, so the profiles shadowtap-dp writes and the fine history
    records shadowtap-cp must end up holding;
  - the segment file format documented in control/store/segment.h (header,
    "STHR" frames, XXH3-64 of each frame through libxxhash by ctypes), read
    here to count the fine records on disk and check every checksum.

1. Before each kill the history files are growing (the daemon is writing);
   after each restart cp-status says the store opened with no damaged
   stretch (checksum_failures 0), at most one torn tail per kill, and at
   least the records the dead daemon had said it appended.
2. At the end, after a clean stop and one more start: every frame on disk
   is whole and its checksum right, and the fine records hold every
   (stream, epoch) of the truth exactly once, save duplicates of profiles
   the killed daemon had written but not yet released from the ring (at
   most one per kill).

Environment (set by meson): SHADOWTAP_GEN, SHADOWTAP_DP, SHADOWTAP_CP,
SHADOWCTL.
"""
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

GEN = os.environ["SHADOWTAP_GEN"]
DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]
KILLS = 3

failures = []
XXH = ctypes.CDLL("libxxhash.so.0")
XXH.XXH3_64bits.restype = ctypes.c_uint64
XXH.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def status(sock):
    r = subprocess.run([CTL, "cp-status", "--json", "--socket", sock],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return json.loads(r.stdout) if r.returncode == 0 else None


def start_cp(tmp, inst):
    sock = os.path.join(tmp, "cp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    cp = subprocess.Popen([CP, "--instance", inst, "--state-dir", os.path.join(tmp, "state"),
                           "--socket", sock, "--prometheus", "off",
                           "--event-log", os.path.join(tmp, "events.jsonl")],
                          stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    st = None
    while time.time() < deadline and cp.poll() is None:
        if os.path.exists(sock):
            st = status(sock)
            if st:
                break
        time.sleep(0.02)
    return cp, sock, st


def history_bytes(tmp):
    d = os.path.join(tmp, "state", "history")
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    except OSError:
        return 0


def read_segments(tmp):
    """(fine records as (stream_id, epoch_start_ns), frames with a bad
    checksum or a bad sync, files) of every segment on disk."""
    d = os.path.join(tmp, "state", "history")
    fine, bad, files = [], 0, 0
    for name in sorted(os.listdir(d)):
        data = open(os.path.join(d, name), "rb").read()
        if len(data) < 64 or data[0:4] != b"STHS":
            continue
        files += 1
        tier = data[8]
        if XXH.XXH3_64bits(data[0:56], 56) != struct.unpack_from("<Q", data, 56)[0]:
            bad += 1
            continue
        off = 64
        while off < len(data):
            if off + 8 > len(data) or data[off:off + 4] != b"STHR":
                bad += 1
                break
            (length,) = struct.unpack_from("<I", data, off + 4)
            end = off + 8 + length
            if end + 8 > len(data):
                bad += 1
                break
            if XXH.XXH3_64bits(data[off:end], end - off) != struct.unpack_from("<Q", data, end)[0]:
                bad += 1
            elif tier == 0:
                fine.append(struct.unpack_from("<QQ", data, off + 8))
            off = end + 8
    return fine, bad, files


def main():
    inst = f"stcrash{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "c.pcap")
        subprocess.run([GEN, "-q", "-o", cap, "--seed", "11", "--duration", "600s",
                        "--stream", "kafka:orders,rate=40,keys=50,partitions=2,batch=4",
                        "--stream", "mqtt:sensors/temp,rate=30,keys=40",
                        "--stream", "jsonl:udp:5140,rate=20,keys=30"], check=True)
        truth = json.load(open(cap + ".truth.json"))
        want = sum(1 for s in truth["streams"] for e in s["epochs"] if e["records"] > 0)
        print(f"truth: {len(truth['streams'])} streams, {want} (stream, epoch) pairs with records")

        cp, sock, st = start_cp(tmp, inst)
        check(st is not None, "shadowtap-cp did not start")
        dp = None
        try:
            dp = subprocess.Popen([DP, "--instance", inst, "--pcap", cap, "--pace", "60",
                                   "--ring-mib", "64"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            kills, torn_total = 0, 0
            for k in range(KILLS):
                # wait until the daemon has written some history in this
                # life, then kill it while the files still grow
                said = 0
                base = history_bytes(tmp)
                deadline = time.time() + 60
                while time.time() < deadline:
                    st = status(sock)
                    if st and st["store"]["history_appended"] >= 100:
                        said = st["store"]["history_appended"] + st["store"]["coarse_appended"]
                        break
                    time.sleep(0.01)
                grew = history_bytes(tmp) > base
                cp.send_signal(signal.SIGKILL)
                cp.wait()
                kills += 1
                check(said > 0 and grew, f"kill {k + 1}: the daemon had not been writing "
                      f"(said {said}, files grew {grew})")
                loaded_before = said
                cp, sock, st = start_cp(tmp, inst)
                check(st is not None, f"restart {k + 1}: shadowtap-cp did not start")
                if not st:
                    return 1
                s = st["store"]
                torn_total += s["torn_tails"]
                print(f"kill {k + 1}: the dead daemon had said {said} records appended; "
                      f"restart loaded {s['records_loaded']}, torn tails {s['torn_tails']} "
                      f"({s['torn_bytes']} bytes), checksum failures {s['checksum_failures']}")
                check(s["checksum_failures"] == 0 and s["segments_foreign"] == 0,
                      f"restart {k + 1}: damaged store {s}")
                check(s["torn_tails"] <= 1, f"restart {k + 1}: {s['torn_tails']} torn tails")
                check(s["records_loaded"] >= loaded_before,
                      f"restart {k + 1}: loaded {s['records_loaded']} < {loaded_before} said")

            dp.wait(timeout=300)
            check(dp.returncode == 0, f"shadowtap-dp exit {dp.returncode}")
            # every profile in the ring read: the count holds still
            last, still, deadline = -1, 0, time.time() + 60
            while still < 10 and time.time() < deadline:
                st = status(sock)
                n = st["ring"]["records"] if st else -1
                still = still + 1 if n == last else 0
                last = n
                time.sleep(0.1)
            cp.send_signal(signal.SIGTERM)
            cp.wait(timeout=30)
            check(cp.returncode == 0, f"shadowtap-cp exit {cp.returncode} after SIGTERM")

            cp, sock, st = start_cp(tmp, inst)
            check(st is not None, "final start: shadowtap-cp did not start")
            if st:
                s = st["store"]
                check(s["checksum_failures"] == 0 and s["torn_tails"] == 0,
                      f"final start after a clean stop: {s}")
            fine, bad, files = read_segments(tmp)
            pairs = set(fine)
            streams = {p[0] for p in pairs}
            dups = len(fine) - len(pairs)
            print(f"on disk: {files} segments, {len(fine)} fine records, {len(pairs)} distinct "
                  f"(stream, epoch), {dups} duplicates, {bad} bad frames; "
                  f"torn tails cut over {kills} kills: {torn_total}")
            check(bad == 0, f"{bad} frames with a bad sync or checksum on disk")
            check(len(streams) == len(truth["streams"]),
                  f"{len(streams)} streams on disk, truth has {len(truth['streams'])}")
            check(len(pairs) == want, f"{len(pairs)} (stream, epoch) on disk, truth {want}")
            check(dups <= kills, f"{dups} duplicate records after {kills} kills")
        finally:
            for p in (cp, dp):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()
            if os.path.exists(f"/dev/shm/shadowtap-{inst}"):
                os.unlink(f"/dev/shm/shadowtap-{inst}")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
