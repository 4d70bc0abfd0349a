"""What the integration tests that drive shadowtap-cp in a network
namespace share: starting the daemon there, and replaying a capture into
its ring until every profile is parsed.  Executables come from the
environment (SHADOWTAP_DP, SHADOWTAP_CP, SHADOWCTL), as in every test here;
checks stay in the tests (these return what they saw)."""
import json
import os
import subprocess
import time

DP = os.environ["SHADOWTAP_DP"]
CP = os.environ["SHADOWTAP_CP"]
CTL = os.environ["SHADOWCTL"]


def start_cp(ns, conf, inst, tmp, events, wait_s):
    """shadowtap-cp in namespace ns with its socket in tmp; returns (process,
    socket path) once the socket exists, the process exits or wait_s pass."""
    sock = os.path.join(tmp, "cp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    cp = subprocess.Popen(["nsenter", "--net=/run/netns/" + ns, CP, "--config", conf,
                           "--instance", inst, "--state-dir", os.path.join(tmp, "state"),
                           "--socket", sock, "--prometheus", "off", "--event-log", events],
                          stderr=subprocess.PIPE)
    deadline = time.time() + wait_s
    while not os.path.exists(sock) and time.time() < deadline and cp.poll() is None:
        time.sleep(0.05)
    return cp, sock


def replay(inst, cap, conf, sock, dp_timeout_s, quiet_polls, quiet_wait_s, poll_s):
    """Replays the capture into the instance's ring, then waits until
    shadowtap-cp's parsed-profile count holds still for quiet_polls polls
    (at most quiet_wait_s).  Returns (shadowtap-dp's CompletedProcess, the
    decisions of `shadowctl decisions --json`, or None when it failed, and
    its stderr)."""
    dp = subprocess.run([DP, "--instance", inst, "--pcap", cap, "--config", conf,
                         "--ring-mib", "16"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=dp_timeout_s)
    last, still, deadline = -1, 0, time.time() + quiet_wait_s
    while still < quiet_polls and time.time() < deadline:
        r = subprocess.run([CTL, "cp-status", "--json", "--socket", sock],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        n = json.loads(r.stdout)["profiles"]["parsed"] if r.returncode == 0 else -1
        still = still + 1 if n == last else 0
        last = n
        time.sleep(poll_s)
    r = subprocess.run([CTL, "decisions", "--json", "--count", "1024", "--socket", sock],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    decisions = json.loads(r.stdout).get("decisions", []) if r.returncode == 0 else None
    return dp, decisions, r.stderr
